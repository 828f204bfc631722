import { MAX_TIMER_MS } from '@kalab/core';

/**
 * The range of every bounded run option (inclusive; durations in ms). The loadgen checks its
 * options against this table (`optionsFromFlags`, `resolveOptions`) and the run-option and
 * agent-caps schemas take their bounds from it, so the CLI, the API and the wire agree.
 */
export const LIMITS = {
  connections: { min: 1, max: 100_000 },
  requests: { min: 1, max: Number.MAX_SAFE_INTEGER },
  /** `-d`: up to the longest timer Node keeps (a longer one would fire at once). */
  durationMs: { min: 1, max: MAX_TIMER_MS },
  /** `-R`, requests per second (above 0). */
  rate: { min: 0, max: 10_000_000 },
  workers: { min: 1, max: 256 },
  maxIdle: { min: 0, max: 1_000_000 },
  pipelining: { min: 1, max: 1024 },
  /** `--streams` (h2): concurrent streams per session. */
  streams: { min: 1, max: 10_000 },
  /** `--timeout`: a request that may wait longer than an hour is a request that hangs. */
  timeoutMs: { min: 1, max: 3_600_000 },
  tickMs: { min: 10, max: 60_000 },
  localAddresses: { min: 1, max: 64 },
  /** `-b` / `--body-file`: a request body is read once and kept in memory by every worker. */
  bodyBytes: { min: 0, max: 8 * 1024 * 1024 },
  /** `-H`: headers per request, and bytes per header line (name, ': ', value). */
  headers: { min: 0, max: 64 },
  headerBytes: { min: 1, max: 8 * 1024 },
  /** `--ca FILE`. */
  caBytes: { min: 1, max: 1024 * 1024 },
} as const;

/** What `--engine` accepts (`h2c` is an older name of `h2`, kept as an alias). */
export const ENGINES = ['undici', 'http', 'h2', 'h2c', 'net'] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * The engine that carries a run's requests, as reports name it: what `--engine` asked for,
 * except that undici and net without keep-alive hand over to the lean churn engine, and
 * h2c is h2 (prior knowledge on http://, ALPN on https://).
 */
export const ENGINES_RUN = ['undici', 'http', 'h2', 'net', 'churn'] as const;
export type RunEngineName = (typeof ENGINES_RUN)[number];

/** What a report's `engine` may say: an engine that runs, or `h2c` in a report written when h2 was named so. */
export const REPORT_ENGINES = [...ENGINES, 'churn'] as const;

/** A run id on the wire (a run, an agent's share of a fan-out). */
export const RUN_ID_MAX = 64;
/**
 * A fan-out's own run id: shorter, because each agent's share is `<fan-out id>.<n>` with n up
 * to FAN_OUT_MAX_AGENTS, and that must still be a run id (test/limits.test.ts checks).
 */
export const FAN_OUT_RUN_ID_MAX = 40;
/** Agents in one fan-out. */
export const FAN_OUT_MAX_AGENTS = 1024;

/** Connection events in one conn-events message. */
export const MAX_EVENTS_PER_MESSAGE = 1000;
