import { availableParallelism } from 'node:os';

/** Every default of the load generator, in one place (docs/loadgen.md lists them). */
export const DEFAULTS = {
  engine: 'undici' as const,
  connections: 10,
  /** The bound applied when neither `-n` nor `-d` is given: every run stops by itself. */
  durationMs: 10_000,
  pipelining: 1,
  keepAlive: true,
  consumeBody: true,
  /** Without keep-alive, the client closes first (its side holds the TIME_WAIT). */
  closeBy: 'client' as const,
  /** node:http Agent `maxFreeSockets` default (Node's own default is 256). */
  maxIdle: 256,
  /** Progress, ticks and host samples. */
  tickMs: 1000,
  /** Per-connection connect timeout (never more than the request timeout). */
  connectTimeoutMs: 10_000,
  /**
   * Per-request timeout (`--timeout`, autocannon's default): a request with no complete
   * response within it fails as ETIMEDOUT and its connection is destroyed.
   */
  timeoutMs: 10_000,
  /** At the end of a run, how long an h2c session may take to close gracefully (GOAWAY, FIN) before it is destroyed. */
  h2cCloseGraceMs: 1000,
  /** A run whose first tick saw only refused connects and no connection stops early. */
  stopWhenUnreachable: true,
} as const;

/**
 * Workers when `-w` is not given: one per core the process may use, never more than the
 * connections (a worker with no connection would idle), and 1 for h2c (one session per worker).
 */
export function defaultWorkers(connections: number, engine: string): number {
  if (engine === 'h2c') return 1;
  return Math.max(1, Math.min(availableParallelism(), connections));
}

export const ENGINES = ['undici', 'http', 'h2c', 'net'] as const;
export type EngineName = (typeof ENGINES)[number];
