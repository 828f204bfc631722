import type { TcpSocket } from './proc-net-tcp.js';
import { emptyStateCounts, type StateCounts, type TcpState } from './tcp-states.js';

export interface EphemeralUsage {
  /** `ip_local_port_range`, inclusive. */
  range: [number, number];
  /** Ports in the range. */
  size: number;
  /** Distinct local ports in the range held by at least one socket (TIME_WAIT included). */
  inUse: number;
  /** Sockets in TIME_WAIT whose local port is in the range. */
  timeWait: number;
  /** Sockets with a local port in the range, by state. */
  byState: StateCounts;
  /** Each held port and the states of the sockets on it (one port can carry several 4-tuples). */
  ports: Map<number, TcpState[]>;
}

export function assertPortRange(range: readonly [number, number]): void {
  const [lo, hi] = range;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65_535 || lo > hi) {
    throw new RangeError(`range must be [lo, hi] with 1 <= lo <= hi <= 65535, got [${lo}, ${hi}]`);
  }
}

/**
 * Which local ports of the ephemeral range are held, and in which state. connect() can
 * reuse a local port toward a different remote, so a port is "in use" when any socket
 * holds it; exhaustion toward one destination shows as `inUse` approaching `size`.
 */
export function ephemeralUsage(sockets: readonly TcpSocket[], range: readonly [number, number]): EphemeralUsage {
  assertPortRange(range);
  const [lo, hi] = range;
  const ports = new Map<number, TcpState[]>();
  const byState = emptyStateCounts();
  let timeWait = 0;
  for (const s of sockets) {
    const p = s.local.port;
    if (p < lo || p > hi) continue;
    byState[s.state]++;
    if (s.state === 'TIME_WAIT') timeWait++;
    const list = ports.get(p);
    if (list) list.push(s.state);
    else ports.set(p, [s.state]);
  }
  return { range: [lo, hi], size: hi - lo + 1, inUse: ports.size, timeWait, byState, ports };
}
