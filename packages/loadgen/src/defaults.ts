import { availableParallelism } from 'node:os';
import type { EngineName, RunEngineName } from '@kalab/protocol';

/** Every default of the load generator, in one place (docs/loadgen.md lists them). */
export const DEFAULTS = {
  /**
   * The lean raw-socket engine (engine-net.ts): the fastest that counts every connection
   * exactly. `undici` stays for "what an undici client does" (docs/contracts.md: why the default changed).
   */
  engine: 'net' as const,
  connections: 10,
  /** h2: concurrent streams per session (`--streams`), as h2load's `-m 100`; the server's MAX_CONCURRENT_STREAMS caps it. */
  h2Streams: 100,
  /** The bound applied when neither `-n` nor `-d` is given: every run stops by itself. */
  durationMs: 10_000,
  pipelining: 1,
  keepAlive: true,
  consumeBody: true,
  /** Without keep-alive, the client closes first (its side holds the TIME_WAIT). */
  closeBy: 'client' as const,
  /**
   * net `--no-consume-body`: connections holding an unread response kept open per worker;
   * beyond it the oldest is closed (every request opens one: a long run would otherwise
   * hold every socket it ever opened).
   */
  heldConnections: 1000,
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
 * connections (a worker with no connection would idle). For h2 the connections are
 * sessions, spread over the workers like any other connections.
 */
export function defaultWorkers(connections: number, _engine: string): number {
  return Math.max(1, Math.min(availableParallelism(), connections));
}

// The option limits and the engine names are the protocol's (an agent checks a monitor's run
// options against the same table): one definition, re-exported for the loadgen's own modules.
export { ENGINES, ENGINES_RUN, type EngineName, LIMITS, type RunEngineName } from '@kalab/protocol';

/**
 * The engine that carries a run's requests: what `--engine` asked for, except that undici and
 * net without keep-alive hand over to the lean churn engine, and h2c is h2.
 */
export function engineThatRuns(o: { engine: EngineName; keepAlive: boolean }): RunEngineName {
  if (o.engine === 'h2c') return 'h2';
  if (o.engine === 'http' || o.engine === 'h2') return o.engine;
  return o.keepAlive ? o.engine : 'churn';
}

/**
 * Whether an engine resumes TLS sessions when --tls-resume is not given: what its library
 * does by default. undici's connector and node's https.Agent keep a session cache; a bare
 * tls.connect (churn) and http2.connect do not. The net keep-alive engine, the default,
 * keeps one as undici (the default before it) does, so a reconnect costs what it did.
 */
export function defaultTlsResume(engine: EngineName, keepAlive: boolean): boolean {
  const runs = engineThatRuns({ engine, keepAlive });
  return runs === 'undici' || runs === 'http' || runs === 'net';
}
