import { blockChart, fmtCount, fmtRate, pick, spread } from '../format.js';
import type { View } from './view.js';

/** Requests per second and new connections per second over the monitor's history. */
export const throughputView: View = {
  id: 'throughput',
  title: (_m, width) => pick([' Throughput · req/s · new conn/s ', ' Throughput '], width),
  lines(model, width, height) {
    const snap = model.snapshot;
    const m = snap?.merged;
    const rps = snap?.history.rps ?? [];
    const conns = snap?.history.newConnPerSec ?? [];
    const withTotals = height >= 5;
    const chartRows = Math.max(0, Math.floor((height - 2 - (withTotals ? 1 : 0)) / 2));
    const lines: string[] = [];
    lines.push(spread(`req/s ${fmtRate(m?.rps ?? 0)}`, `peak ${fmtRate(Math.max(0, ...rps))}`, width));
    lines.push(...blockChart(rps, width, chartRows));
    lines.push(spread(`new conn/s ${fmtRate(m?.newConnPerSec ?? 0)}`, `peak ${fmtRate(Math.max(0, ...conns))}`, width));
    lines.push(...blockChart(conns, width, chartRows));
    if (withTotals) {
      const req = fmtCount(m?.requests ?? 0);
      const conns = fmtCount(m?.connectionsOpened ?? 0);
      const perConn = fmtRate(m?.requestsPerConnection ?? 0);
      lines.push(
        pick(
          [
            `requests ${req} · connections ${conns} · req/conn ${perConn}`,
            `req ${req} · conn ${conns} · req/conn ${perConn}`,
          ],
          width,
        ),
      );
    }
    // https:// runs: handshakes/s and resumed sessions, over the connected sources that report TLS.
    const tls = (snap?.sources ?? []).filter((s) => s.tls && s.connected);
    if (tls.length > 0 && lines.length < height) {
      const hs = tls.reduce((a, s) => a + s.tls!.handshakes, 0);
      const resumed = tls.reduce((a, s) => a + s.tls!.resumed, 0);
      const perSec = tls.reduce((a, s) => a + s.tls!.handshakesPerSec, 0);
      const pct = hs > 0 ? Math.round((resumed / hs) * 100) : 0;
      lines.push(
        pick(
          [`TLS handshakes/s ${fmtRate(perSec)} · resumed ${pct}%`, `TLS ${fmtRate(perSec)}/s · ${pct}% resumed`],
          width,
        ),
      );
    }
    return lines.slice(0, height);
  },
};
