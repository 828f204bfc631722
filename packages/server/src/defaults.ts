import { MAX_TIMER_MS } from '@kalab/core/options';

/**
 * Every default of @kalab/server in one place. The timeouts are node:http's own defaults
 * (Node 20), so `kalab server` with no flags behaves like a plain node:http server.
 */
export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  /** node:http keepAliveTimeout: idle time after the last response before the server closes. */
  keepAliveTimeoutMs: 5_000,
  /** node:http headersTimeout: time allowed to receive a request's complete headers. */
  headersTimeoutMs: 60_000,
  /** node:http requestTimeout: time allowed to receive a whole request. */
  requestTimeoutMs: 300_000,
  /** 0 = unlimited (node:http's default). */
  maxRequestsPerSocket: 0,
  /** Answer every request with `Connection: close`. */
  close: false,
  /** Response delay in microseconds (the article's server sleeps 50 µs). */
  delayUs: 0,
  /** null = the article's body, `Hello world`. */
  bodyBytes: null as number | null,
  /** null = no h2c listener. */
  h2cPort: null as number | null,
  /** Closed connections kept in the ledger for inspection (aggregates are never dropped). */
  ledgerHistory: 1_000,
  /** Time in-flight requests get to finish on shutdown before their sockets are destroyed. */
  shutdownGraceMs: 2_000,
} as const;

export const HELLO_BODY = 'Hello world';

/** The ledger's own endpoint on the server's port (docs/server.md). */
export const STATS_PATH = '/_kalab/stats';

/**
 * The range of every numeric option (inclusive; times in ms, `delayUs` in µs). The one table:
 * resolveServerOptions checks against it and `kalab server` derives its flags' checks and
 * messages from it.
 */
export const SERVER_LIMITS = {
  port: { min: 0, max: 65_535 },
  /** 2^31-1 ms: the longest timer Node keeps. */
  keepAliveTimeout: { min: 0, max: MAX_TIMER_MS },
  headersTimeout: { min: 0, max: MAX_TIMER_MS },
  requestTimeout: { min: 0, max: MAX_TIMER_MS },
  maxRequestsPerSocket: { min: 0, max: 2 ** 31 - 1 },
  delayUs: { min: 0, max: 60_000_000 },
  bodyBytes: { min: 0, max: 64 * 1024 * 1024 },
  h2cPort: { min: 0, max: 65_535 },
  ledgerHistory: { min: 0, max: 1_000_000 },
  shutdownGraceMs: { min: 0, max: 600_000 },
} as const;

/** The monitor reporter's cadence: events flushed ~4 times a second, a tick and a TCP sample each second. */
export const REPORTER_DEFAULTS = {
  flushIntervalMs: 250,
  tickIntervalMs: 1_000,
  sampleIntervalMs: 1_000,
  /** Events kept between flushes; beyond it the oldest are dropped and counted. */
  maxPendingEvents: 20_000,
  maxSampleSockets: 200,
} as const;
