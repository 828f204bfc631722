import { bar, fit, fmtCount, fmtDuration, pick } from '../format.js';
import type { View } from './view.js';

/** Ephemeral ports in use against the range, per host, with the time left at the current rate. */
export const portsView: View = {
  id: 'ports',
  title: (_m, width) => pick([' Ephemeral ports in use ', ' Ephemeral ports '], width),
  lines(model, width, height) {
    const hosts = Object.entries(model.snapshot?.hosts ?? {})
      .filter(([, h]) => h.ephemeral)
      .sort(([a], [b]) => a.localeCompare(b));
    if (hosts.length === 0) return [fit('no ephemeral-port sample yet', width)].slice(0, height);
    const lines: string[] = [];
    for (const [name, h] of hosts) {
      if (height - lines.length < 3) break;
      const e = h.ephemeral!;
      const size = Math.max(1, e.range[1] - e.range[0] + 1);
      const pct = (e.inUse / size) * 100;
      const label = `${pct < 10 ? pct.toFixed(1) : pct.toFixed(0)}%`;
      lines.push(fit(`${name} ${e.range[0]}-${e.range[1]}`, width));
      lines.push(`${bar(e.inUse / size, Math.max(1, width - label.length - 1))} ${label}`.slice(0, width));
      const eta = h.exhaustionSeconds === null ? 'not filling' : `full in ${fmtDuration(h.exhaustionSeconds * 1000)}`;
      lines.push(
        fit(`${eta} · ${fmtCount(e.inUse)}/${fmtCount(size)} in use · TIME_WAIT ${fmtCount(e.timeWait)}`, width),
      );
    }
    if (lines.length < hosts.length * 3 && lines.length < height)
      lines.push(fit(`+${hosts.length - lines.length / 3} more host(s)`, width));
    return lines.slice(0, height);
  },
};
