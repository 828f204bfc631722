/**
 * TCP states named as the kernel names them in include/net/tcp_states.h (and in
 * /proc/net/tcp). Other tools' names (ss's ESTAB/TIME-WAIT, BSD's FIN_WAIT_1/SYN_RCVD)
 * are mapped onto these.
 */
export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
] as const;

export type TcpState = (typeof TCP_STATES)[number];

/** Counts per state; every state is present (0 when none). */
export type StateCounts = Record<TcpState, number>;

/** Kernel state code (the `st` column, 0x01..0x0C) → name. 0x0C NEW_SYN_RECV is a SYN_RECV to users. */
export const STATE_BY_CODE: readonly (TcpState | undefined)[] = [undefined, ...TCP_STATES, 'SYN_RECV'];

export function emptyStateCounts(): StateCounts {
  return {
    ESTABLISHED: 0,
    SYN_SENT: 0,
    SYN_RECV: 0,
    FIN_WAIT1: 0,
    FIN_WAIT2: 0,
    TIME_WAIT: 0,
    CLOSE: 0,
    CLOSE_WAIT: 0,
    LAST_ACK: 0,
    LISTEN: 0,
    CLOSING: 0,
  };
}

const ALIASES: Record<string, TcpState> = {
  // ss (iproute2)
  ESTAB: 'ESTABLISHED',
  'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  UNCONN: 'CLOSE',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
  // BSD / macOS netstat
  SYN_RCVD: 'SYN_RECV',
  FIN_WAIT_1: 'FIN_WAIT1',
  FIN_WAIT_2: 'FIN_WAIT2',
  CLOSED: 'CLOSE',
  // Windows netstat (LISTENING is mapped by the netstat parser)
  SYN_RECEIVED: 'SYN_RECV',
};

/** Maps a state name from the kernel, ss, or BSD/Linux netstat to the kernel's name; undefined if unknown. */
export function normalizeTcpState(name: string): TcpState | undefined {
  const upper = name.trim().toUpperCase();
  if ((TCP_STATES as readonly string[]).includes(upper)) return upper as TcpState;
  return ALIASES[upper];
}
