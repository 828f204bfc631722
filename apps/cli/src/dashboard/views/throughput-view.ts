import type { SourceSnapshot } from '@kalab/protocol';
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
    // https:// runs: handshakes/s and resumed sessions, over the connected sources that report TLS:
    // the clients' side (agents, observed programs), then the servers' own count (a lab server
    // with --tls), on separate lines so that a client and its server are not added together.
    const sources = (snap?.sources ?? []).filter((s) => s.tls && s.connected);
    const clients = sources.filter((s) => s.role !== 'server');
    const servers = sources.filter((s) => s.role === 'server');
    const tlsRows = (clients.length > 0 ? 1 : 0) + (servers.length > 0 ? 1 : 0);
    const chartRows = Math.max(0, Math.floor((height - 2 - (withTotals ? 1 : 0) - tlsRows) / 2));
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
    if (clients.length > 0 && lines.length < height) lines.push(tlsLine('', clients, width));
    if (servers.length > 0 && lines.length < height) lines.push(tlsLine('server ', servers, width));
    return lines.slice(0, height);
  },
};

/** `TLS handshakes/s N · resumed P%` summed over `sources` (the narrow form when the panel is narrow). */
function tlsLine(who: string, sources: SourceSnapshot[], width: number): string {
  const hs = sources.reduce((a, s) => a + (s.tls?.handshakes ?? 0), 0);
  const resumed = sources.reduce((a, s) => a + (s.tls?.resumed ?? 0), 0);
  const perSec = sources.reduce((a, s) => a + (s.tls?.handshakesPerSec ?? 0), 0);
  const pct = hs > 0 ? Math.round((resumed / hs) * 100) : 0;
  return pick(
    [`${who}TLS handshakes/s ${fmtRate(perSec)} · resumed ${pct}%`, `${who}TLS ${fmtRate(perSec)}/s · ${pct}% resumed`],
    width,
  );
}
