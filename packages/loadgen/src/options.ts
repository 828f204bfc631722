import { isIP } from 'node:net';
import { BadOptionError, parseDuration, parseInteger, parseUrl } from '@kalab/core';
import { DEFAULTS, defaultWorkers, ENGINES, type EngineName } from './defaults.js';

/**
 * What a caller may ask of `runLoad`. Field names follow core's RunOptionsSchema (what a
 * monitor sends an agent), plus the in-process extras (signal, tickMs).
 */
export interface LoadOptions {
  /** http:// URL; never defaulted, so a non-loopback target is always one the user typed. */
  target: string;
  engine?: EngineName;
  /** Closed model: connections (undici, churn), concurrency = Agent maxSockets (http), concurrent streams (h2c). */
  connections?: number;
  /** Total request budget (`-n`). */
  requests?: number;
  /** Duration bound (`-d`). When neither bound is given, DEFAULTS.durationMs applies. */
  durationMs?: number;
  /** Open model: requests per second (`-R`), latency measured from each intended send time. */
  rate?: number;
  workers?: number;
  keepAlive?: boolean;
  /** node:http Agent maxFreeSockets (Go's MaxIdleConnsPerHost). */
  maxIdle?: number;
  consumeBody?: boolean;
  pipelining?: number;
  /** Source addresses, given to new connections in turn. */
  localAddresses?: string[];
  /**
   * Without keep-alive, who closes each connection first (and so holds its TIME_WAIT):
   * 'client' (default: the article's client, and what exhausts the client's ports) or
   * 'server' (the request says `Connection: close`, as hey and curl do).
   */
  closeBy?: 'client' | 'server';
  scenario?: string;
  /**
   * Per-request timeout (`--timeout`): a request with no complete response within it fails
   * under `errors.ETIMEDOUT` and its connection is destroyed (a new one carries the next
   * request). Default DEFAULTS.timeoutMs.
   */
  timeoutMs?: number;
  /** Aborting stops the run early; the report still follows (stoppedEarly: 'stopped'). */
  signal?: AbortSignal;
  tickMs?: number;
}

/** Options after validation, every default filled in. What workers receive (minus the signal). */
export interface ResolvedOptions {
  target: string;
  engine: EngineName;
  connections: number;
  requests: number | null;
  durationMs: number | null;
  rate: number | null;
  workers: number;
  keepAlive: boolean;
  maxIdle: number;
  consumeBody: boolean;
  pipelining: number;
  localAddresses: string[];
  closeBy: 'client' | 'server';
  scenario: string | null;
  tickMs: number;
  connectTimeoutMs: number;
  timeoutMs: number;
}

/** The CLI flag of each option, so every message names what the user typed. */
export const FLAGS = {
  target: 'URL',
  engine: '--engine',
  connections: '-c',
  requests: '-n',
  durationMs: '-d',
  rate: '-R',
  workers: '-w',
  maxIdle: '--max-idle',
  pipelining: '-p',
  localAddresses: '--local-address',
  closeBy: '--close-by',
  timeoutMs: '--timeout',
  tickMs: 'tickMs',
} as const;

/** The longest --timeout accepted: a request that may wait longer is a request that hangs. */
const MAX_TIMEOUT_MS = 3_600_000;

/** Validates once, at the boundary. Throws BadOptionError naming the flag. */
export function resolveOptions(o: LoadOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new BadOptionError('options', 'options must be an object');
  if (typeof o.target !== 'string') throw new BadOptionError(FLAGS.target, `${FLAGS.target} is required`);
  const url = parseUrl(FLAGS.target, o.target, ['http:']);
  const engine = o.engine ?? DEFAULTS.engine;
  if (!ENGINES.includes(engine))
    throw new BadOptionError(FLAGS.engine, `${FLAGS.engine} must be one of ${ENGINES.join(', ')}, got "${engine}"`);
  const connections = int(FLAGS.connections, o.connections ?? DEFAULTS.connections, 1, 100_000);
  const requests = o.requests === undefined ? null : int(FLAGS.requests, o.requests, 1);
  let durationMs = o.durationMs === undefined ? null : o.durationMs;
  if (durationMs !== null && !(Number.isFinite(durationMs) && durationMs > 0)) {
    throw new BadOptionError(FLAGS.durationMs, `${FLAGS.durationMs} must be a positive duration, got "${durationMs}"`);
  }
  if (requests === null && durationMs === null) durationMs = DEFAULTS.durationMs;
  const rate = o.rate === undefined ? null : o.rate;
  if (rate !== null && !(typeof rate === 'number' && Number.isFinite(rate) && rate > 0)) {
    throw new BadOptionError(
      FLAGS.rate,
      `${FLAGS.rate} must be a positive number of requests per second, got "${rate}"`,
    );
  }
  const keepAlive = o.keepAlive ?? DEFAULTS.keepAlive;
  const consumeBody = o.consumeBody ?? DEFAULTS.consumeBody;
  const pipelining = int(FLAGS.pipelining, o.pipelining ?? DEFAULTS.pipelining, 1, 1024);
  if (pipelining > 1 && engine !== 'undici' && engine !== 'net')
    throw new BadOptionError(FLAGS.pipelining, `${FLAGS.pipelining} needs --engine undici or net (got ${engine})`);
  if (engine === 'net' && !consumeBody)
    throw new BadOptionError(
      '--no-consume-body',
      '--no-consume-body needs --engine undici or http (the net engine must read each response to find the next)',
    );
  if (!keepAlive && engine === 'h2c')
    throw new BadOptionError(
      '--no-keepalive',
      '--no-keepalive does not apply to --engine h2c (one session carries every stream)',
    );
  const maxIdle = int(FLAGS.maxIdle, o.maxIdle ?? DEFAULTS.maxIdle, 0, 1_000_000);
  const localAddresses = o.localAddresses ?? [];
  if (!Array.isArray(localAddresses) || localAddresses.length > 64)
    throw new BadOptionError(FLAGS.localAddresses, `${FLAGS.localAddresses} takes 1 to 64 addresses`);
  for (const a of localAddresses) {
    if (typeof a !== 'string' || isIP(a) === 0)
      throw new BadOptionError(FLAGS.localAddresses, `${FLAGS.localAddresses} must list IP addresses, got "${a}"`);
  }
  const closeBy = o.closeBy ?? DEFAULTS.closeBy;
  if (closeBy !== 'client' && closeBy !== 'server')
    throw new BadOptionError(FLAGS.closeBy, `${FLAGS.closeBy} must be client or server, got "${closeBy}"`);
  // Never more workers than connections: a worker without a connection would idle.
  const workers = Math.min(
    o.workers === undefined ? defaultWorkers(connections, engine) : int(FLAGS.workers, o.workers, 1, 256),
    connections,
  );
  const timeoutMs = o.timeoutMs ?? DEFAULTS.timeoutMs;
  if (!(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new BadOptionError(
      FLAGS.timeoutMs,
      `${FLAGS.timeoutMs} must be a duration from 1ms to 1h, got "${String(timeoutMs)}"`,
    );
  }
  const tickMs = int(FLAGS.tickMs, o.tickMs ?? DEFAULTS.tickMs, 10, 60_000);
  return {
    target: url.href,
    engine,
    connections,
    requests,
    durationMs,
    rate,
    workers,
    keepAlive,
    maxIdle,
    consumeBody,
    pipelining,
    localAddresses: [...localAddresses],
    closeBy,
    scenario: o.scenario ?? null,
    tickMs,
    connectTimeoutMs: Math.min(DEFAULTS.connectTimeoutMs, timeoutMs),
    timeoutMs,
  };
}

function int(flag: string, v: unknown, min: number, max?: number): number {
  if (typeof v !== 'number' && typeof v !== 'string')
    throw new BadOptionError(flag, `${flag} must be an integer >= ${min}, got "${String(v)}"`);
  return parseInteger(flag, v, min, max);
}

/** The raw strings commander hands over for `kalab loadgen` (flag names as commander camel-cases them). */
export interface LoadgenFlags {
  connections?: string;
  requests?: string;
  duration?: string;
  rate?: string;
  workers?: string;
  engine?: string;
  keepalive?: boolean;
  maxIdle?: string;
  consumeBody?: boolean;
  pipelining?: string;
  localAddress?: string;
  closeBy?: string;
  timeout?: string;
}

/** Turns the CLI's strings into LoadOptions; every error names the flag. */
export function optionsFromFlags(target: string | undefined, f: LoadgenFlags): LoadOptions {
  if (!target)
    throw new BadOptionError(FLAGS.target, 'a target URL is required, e.g. kalab loadgen http://127.0.0.1:8080/');
  const o: LoadOptions = { target };
  if (f.engine !== undefined) o.engine = f.engine as EngineName;
  if (f.connections !== undefined) o.connections = parseInteger(FLAGS.connections, f.connections, 1, 100_000);
  if (f.requests !== undefined) o.requests = parseInteger(FLAGS.requests, f.requests, 1);
  if (f.duration !== undefined) {
    o.durationMs = parseDuration(FLAGS.durationMs, f.duration, 's');
    if (!(o.durationMs > 0))
      throw new BadOptionError(
        FLAGS.durationMs,
        `${FLAGS.durationMs} must be a positive duration, got "${f.duration}"`,
      );
  }
  if (f.rate !== undefined) {
    const r = /^\s*\d+(\.\d+)?\s*$/.test(f.rate) ? Number(f.rate) : Number.NaN;
    if (!(r > 0))
      throw new BadOptionError(
        FLAGS.rate,
        `${FLAGS.rate} must be a positive number of requests per second, got "${f.rate}"`,
      );
    o.rate = r;
  }
  if (f.workers !== undefined) o.workers = parseInteger(FLAGS.workers, f.workers, 1, 256);
  if (f.keepalive === false) o.keepAlive = false;
  if (f.consumeBody === false) o.consumeBody = false;
  if (f.maxIdle !== undefined) o.maxIdle = parseInteger(FLAGS.maxIdle, f.maxIdle, 0, 1_000_000);
  if (f.pipelining !== undefined) o.pipelining = parseInteger(FLAGS.pipelining, f.pipelining, 1, 1024);
  if (f.closeBy !== undefined) o.closeBy = f.closeBy as 'client' | 'server';
  if (f.timeout !== undefined) o.timeoutMs = parseDuration(FLAGS.timeoutMs, f.timeout, 's');
  if (f.localAddress !== undefined)
    o.localAddresses = f.localAddress
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return o;
}
