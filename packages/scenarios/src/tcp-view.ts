import { formatEndpoint, readTcpTable, type TcpSocket } from '@kalab/core';

export interface SideStates {
  client: Record<string, number>;
  server: Record<string, number>;
}

/**
 * Counts sockets by side of the lab server's ports: client side = the remote port is a
 * server port, server side = the local port is one. Only what the scenario opened counts.
 */
export function statesBySide(sockets: readonly TcpSocket[], ports: readonly number[]): SideStates {
  const out: SideStates = { client: {}, server: {} };
  for (const s of sockets) {
    const side = ports.includes(s.local.port) ? out.server : ports.includes(s.remote.port) ? out.client : null;
    if (side) side[s.state] = (side[s.state] ?? 0) + 1;
  }
  return out;
}

/** Rows shown in the netstat view; the counts cover every socket. */
const NETSTAT_ROWS = 12;

/** The first rows on the ports, client side first (as `netstat -n | grep 8080` lists them, listener left out). */
export function socketRows(
  sockets: readonly TcpSocket[],
  ports: readonly number[],
  max = NETSTAT_ROWS,
): Array<{ local: string; remote: string; state: string }> {
  return sockets
    .filter((s) => s.state !== 'LISTEN' && (ports.includes(s.local.port) || ports.includes(s.remote.port)))
    .sort(
      (a, b) =>
        Number(ports.includes(a.local.port)) - Number(ports.includes(b.local.port)) ||
        a.local.port - b.local.port ||
        a.remote.port - b.remote.port,
    )
    .slice(0, max)
    .map((s) => ({ local: formatEndpoint(s.local), remote: formatEndpoint(s.remote), state: s.state }));
}

/** States a connection passes through before it has closed (TIME_WAIT and CLOSE excepted), in the kernel's order. */
export const OPEN_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'CLOSE_WAIT',
  'LAST_ACK',
  'CLOSING',
] as const;

/** The table has settled when no connection on the ports is in one of these. */
const TRANSIENT = new Set<string>(OPEN_STATES);

/**
 * Waits until every connection on the ports has finished closing (only LISTEN and TIME_WAIT
 * left), up to `timeoutMs`. The kernel announces no such event, so this polls /proc every
 * 10 ms; on loopback it settles within a few polls.
 */
export async function settledStates(
  ports: readonly number[],
  timeoutMs = 3000,
): Promise<{ states: SideStates; rows: ReturnType<typeof socketRows>; settled: boolean }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const table = await readTcpTable();
    const states = statesBySide(table, ports);
    const busy = [...Object.entries(states.client), ...Object.entries(states.server)].some(
      ([st, n]) => n > 0 && TRANSIENT.has(st),
    );
    if (!busy || performance.now() >= deadline) return { states, rows: socketRows(table, ports), settled: !busy };
    await new Promise((r) => setTimeout(r, 10));
  }
}
