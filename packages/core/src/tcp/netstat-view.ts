import { formatEndpoint, type TcpSocket } from './proc-net-tcp.js';
import { type StateCounts, TCP_STATES } from './tcp-states.js';
import { countStates } from './tcp-table.js';

/** `kalab netstat --json` (docs/contracts.md): the listed sockets and their states, counted over that list. */
export interface NetstatJson {
  sockets: { local: string; remote: string; state: string }[];
  states: StateCounts;
}

export function netstatJson(sockets: readonly TcpSocket[]): NetstatJson {
  return {
    sockets: sockets.map((s) => ({ local: formatEndpoint(s.local), remote: formatEndpoint(s.remote), state: s.state })),
    states: countStates(sockets),
  };
}

/** `ESTABLISHED 3, TIME_WAIT 10 (13 sockets)`; states with no socket are left out. */
export function formatStateSummary(states: StateCounts): string {
  let total = 0;
  const parts: string[] = [];
  for (const s of TCP_STATES) {
    if (states[s] > 0) parts.push(`${s} ${states[s]}`);
    total += states[s];
  }
  return `${parts.length ? parts.join(', ') : 'no sockets'} (${total} socket${total === 1 ? '' : 's'})`;
}

/**
 * An endpoint as `ss -tan` prints it: an IPv4 peer of an IPv6 socket (a dual-stack listener's
 * connection) is `[::ffff:127.0.0.1]:8080`, so the table can be compared with ss line by line.
 * (The reader decodes it as 127.0.0.1, which `--json` keeps: docs/contracts.md.)
 */
function tableEndpoint(family: 4 | 6, e: TcpSocket['local']): string {
  return family === 6 && !e.address.includes(':') ? `[::ffff:${e.address}]:${e.port}` : formatEndpoint(e);
}

/** A netstat-like table (proto, local, remote, state) followed by the summary by state. */
export function formatNetstatTable(sockets: readonly TcpSocket[]): string {
  const rows = sockets.map((s) => [
    s.family === 6 ? 'tcp6' : 'tcp',
    tableEndpoint(s.family, s.local),
    tableEndpoint(s.family, s.remote),
    s.state,
  ]);
  const head = ['Proto', 'Local Address', 'Foreign Address', 'State'];
  const width = head.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i]!.length), h.length));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head)];
  for (const r of rows) out.push(line(r));
  out.push('', formatStateSummary(countStates(sockets)));
  return out.join('\n') + '\n';
}
