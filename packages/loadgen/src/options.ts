import {
  BadOptionError,
  checkSourceAddresses,
  formatDurationMs,
  parseDuration,
  parseInteger,
  parseUrl,
  readLimited,
} from '@kalab/core';
import { DEFAULTS, defaultTlsResume, defaultWorkers, ENGINES, type EngineName, LIMITS } from './defaults.js';
import { checkHeader, checkMethod, parseHeaderLine } from './request-shape.js';

/**
 * What a caller may ask of `runLoad`. Field names follow core's RunOptionsSchema (what a
 * monitor sends an agent), plus the in-process extras (signal, tickMs).
 */
export interface LoadOptions {
  /** http:// or https:// URL; never defaulted, so a non-loopback target is always one the user typed. */
  target: string;
  engine?: EngineName;
  /** Closed model: connections (undici, churn), concurrency = Agent maxSockets (http), sessions (h2). */
  connections?: number;
  /** h2: concurrent streams per session (`--streams`, default DEFAULTS.h2Streams; capped by the server's MAX_CONCURRENT_STREAMS). */
  streams?: number;
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
  /** `-m`: the request method (default GET). */
  method?: string;
  /** `-H`: extra headers, in order; a `Host` replaces the URL's. Content-Length, Connection and Transfer-Encoding belong to the engine. */
  headers?: Array<[string, string]>;
  /** `-b` / `--body-file`: the request body, sent with Content-Length (at most LIMITS.bodyBytes). */
  body?: string;
  /** How `body` is written: utf8 text (default) or base64 (a binary --body-file). */
  bodyEncoding?: 'utf8' | 'base64';
  /** https://: accept any certificate (`-k`, as curl). */
  insecure?: boolean;
  /** https://: trust these PEM certificates (the content of `--ca FILE`) instead of Node's roots. */
  ca?: string;
  /** https://: the SNI server name and the name the certificate must carry (default: the URL's host name). */
  servername?: string;
  /** https://: resume TLS sessions (tickets or IDs) on new connections; default: what the engine's library does. */
  tlsResume?: boolean;
  /** Aborting stops the run early; the report still follows (stoppedEarly: 'stopped'). */
  signal?: AbortSignal;
  tickMs?: number;
}

/** The TLS settings of an https:// run (null for http://). */
export interface ResolvedTls {
  insecure: boolean;
  ca: string | null;
  servername: string | null;
  resume: boolean;
  /** True when --tls-resume was not given: `resume` is the engine library's default. */
  resumeDefault: boolean;
}

/** Options after validation, every default filled in. What workers receive (minus the signal). */
export interface ResolvedOptions {
  target: string;
  engine: EngineName;
  connections: number;
  /** h2: concurrent streams per session; null for the HTTP/1 engines. */
  streams: number | null;
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
  method: string;
  headers: Array<[string, string]>;
  /** The body's bytes (null: none). */
  body: Uint8Array | null;
  tls: ResolvedTls | null;
}

/** The CLI flag of each option, so every message names what the user typed. */
export const FLAGS = {
  target: 'URL',
  engine: '--engine',
  connections: '-c',
  streams: '--streams',
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
  method: '-m',
  headers: '-H',
  body: '-b',
  bodyFile: '--body-file',
  insecure: '--insecure',
  ca: '--ca',
  servername: '--servername',
  tlsResume: '--tls-resume',
} as const;

/** Validates once, at the boundary. Throws BadOptionError naming the flag. */
export function resolveOptions(o: LoadOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new BadOptionError('options', 'options must be an object');
  if (typeof o.target !== 'string') throw new BadOptionError(FLAGS.target, `${FLAGS.target} is required`);
  const url = parseUrl(FLAGS.target, o.target, ['http:', 'https:']);
  const engine = o.engine ?? DEFAULTS.engine;
  if (!ENGINES.includes(engine))
    throw new BadOptionError(FLAGS.engine, `${FLAGS.engine} must be one of ${ENGINES.join(', ')}, got "${engine}"`);
  const L = LIMITS;
  const connections = int(
    FLAGS.connections,
    o.connections ?? DEFAULTS.connections,
    L.connections.min,
    L.connections.max,
  );
  const streams = resolveStreams(o.streams, engine);
  const requests = o.requests === undefined ? null : int(FLAGS.requests, o.requests, L.requests.min, L.requests.max);
  let durationMs = o.durationMs === undefined ? null : duration(FLAGS.durationMs, o.durationMs, L.durationMs);
  if (requests === null && durationMs === null) durationMs = DEFAULTS.durationMs;
  const rate = o.rate === undefined ? null : o.rate;
  if (rate !== null && !(typeof rate === 'number' && rate > L.rate.min && rate <= L.rate.max)) throw badRate(rate);
  const keepAlive = o.keepAlive ?? DEFAULTS.keepAlive;
  const consumeBody = o.consumeBody ?? DEFAULTS.consumeBody;
  const pipelining = int(FLAGS.pipelining, o.pipelining ?? DEFAULTS.pipelining, L.pipelining.min, L.pipelining.max);
  if (pipelining > 1 && engine !== 'undici' && engine !== 'net')
    throw new BadOptionError(FLAGS.pipelining, `${FLAGS.pipelining} needs --engine undici or net (got ${engine})`);
  if (!keepAlive && (engine === 'h2c' || engine === 'h2'))
    throw new BadOptionError(
      '--no-keepalive',
      `--no-keepalive does not apply to --engine ${engine} (one session carries every stream)`,
    );
  const maxIdle = int(FLAGS.maxIdle, o.maxIdle ?? DEFAULTS.maxIdle, L.maxIdle.min, L.maxIdle.max);
  const localAddresses = o.localAddresses ?? [];
  if (
    !Array.isArray(localAddresses) ||
    localAddresses.length > L.localAddresses.max ||
    localAddresses.some((a) => typeof a !== 'string')
  )
    throw new BadOptionError(
      FLAGS.localAddresses,
      `${FLAGS.localAddresses} takes ${L.localAddresses.min} to ${L.localAddresses.max} addresses`,
    );
  checkSourceAddresses(FLAGS.localAddresses, localAddresses, url.hostname);
  const closeBy = o.closeBy ?? DEFAULTS.closeBy;
  if (closeBy !== 'client' && closeBy !== 'server')
    throw new BadOptionError(FLAGS.closeBy, `${FLAGS.closeBy} must be client or server, got "${closeBy}"`);
  // Never more workers than connections: a worker without a connection would idle.
  const workers = Math.min(
    o.workers === undefined
      ? defaultWorkers(connections, engine)
      : int(FLAGS.workers, o.workers, L.workers.min, L.workers.max),
    connections,
  );
  const timeoutMs = duration(FLAGS.timeoutMs, o.timeoutMs ?? DEFAULTS.timeoutMs, L.timeoutMs);
  const tickMs = int(FLAGS.tickMs, o.tickMs ?? DEFAULTS.tickMs, L.tickMs.min, L.tickMs.max);
  const method = checkMethod(FLAGS.method, o.method ?? 'GET');
  const headers = resolveHeaders(o.headers);
  const body = resolveBody(o.body, o.bodyEncoding);
  const tls = url.protocol === 'https:' ? resolveTls(o, engine, keepAlive) : null;
  if (url.protocol === 'http:') {
    for (const k of ['insecure', 'ca', 'servername', 'tlsResume'] as const)
      if (o[k] !== undefined) throw new BadOptionError(FLAGS[k], `${FLAGS[k]} needs an https:// URL`);
  }
  return {
    target: url.href,
    engine,
    connections,
    streams,
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
    method,
    headers,
    body,
    tls,
  };
}

/** `--streams`: h2 only, LIMITS.streams. */
function resolveStreams(v: unknown, engine: EngineName): number | null {
  const h2 = engine === 'h2' || engine === 'h2c';
  if (!h2) {
    if (v !== undefined)
      throw new BadOptionError(
        FLAGS.streams,
        `${FLAGS.streams} needs --engine h2 (got ${engine}): it sets the streams of each HTTP/2 session`,
      );
    return null;
  }
  return int(FLAGS.streams, v ?? DEFAULTS.h2Streams, LIMITS.streams.min, LIMITS.streams.max);
}

function resolveHeaders(h: unknown): Array<[string, string]> {
  if (h === undefined) return [];
  if (!Array.isArray(h) || h.length > LIMITS.headers.max)
    throw new BadOptionError(FLAGS.headers, `${FLAGS.headers} takes at most ${LIMITS.headers.max} headers`);
  const out = h.map((p) => checkHeader(FLAGS.headers, p));
  for (const [n, v] of out)
    if (n.length + v.length + 2 > LIMITS.headerBytes.max)
      throw new BadOptionError(FLAGS.headers, `${FLAGS.headers} ${n}: longer than ${LIMITS.headerBytes.max} bytes`);
  return out;
}

function resolveBody(body: unknown, encoding: unknown): Uint8Array | null {
  if (body === undefined) return null;
  if (typeof body !== 'string') throw new BadOptionError(FLAGS.body, `${FLAGS.body} must be a string`);
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'base64')
    throw new BadOptionError('bodyEncoding', `bodyEncoding must be utf8 or base64, got "${String(encoding)}"`);
  const bytes = Buffer.from(body, encoding ?? 'utf8');
  if (bytes.length > LIMITS.bodyBytes.max)
    throw new BadOptionError(
      FLAGS.body,
      `${FLAGS.body} is ${bytes.length} bytes, more than the ${LIMITS.bodyBytes.max}-byte limit`,
    );
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function resolveTls(o: LoadOptions, engine: EngineName, keepAlive: boolean): ResolvedTls {
  if (o.insecure !== undefined && typeof o.insecure !== 'boolean')
    throw new BadOptionError(FLAGS.insecure, `${FLAGS.insecure} must be true or false`);
  if (o.ca !== undefined && (typeof o.ca !== 'string' || !o.ca.includes('-----BEGIN CERTIFICATE-----')))
    throw new BadOptionError(FLAGS.ca, `${FLAGS.ca} must hold PEM certificates (-----BEGIN CERTIFICATE-----)`);
  if (o.servername !== undefined && (typeof o.servername !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(o.servername)))
    throw new BadOptionError(FLAGS.servername, `${FLAGS.servername} must be a DNS name, got "${String(o.servername)}"`);
  if (o.tlsResume !== undefined && typeof o.tlsResume !== 'boolean')
    throw new BadOptionError(FLAGS.tlsResume, `${FLAGS.tlsResume} must be on or off`);
  return {
    insecure: o.insecure ?? false,
    ca: o.ca ?? null,
    servername: o.servername ?? null,
    resume: o.tlsResume ?? defaultTlsResume(engine, keepAlive),
    resumeDefault: o.tlsResume === undefined,
  };
}

function badRate(got: unknown): BadOptionError {
  return new BadOptionError(
    FLAGS.rate,
    `${FLAGS.rate} must be a number of requests per second above 0 and at most ${LIMITS.rate.max}, got "${String(got)}"`,
  );
}

/** A duration in ms given to the API (the CLI's strings went through parseDuration already). */
function duration(flag: string, v: unknown, range: { min: number; max: number }): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= range.min && v <= range.max))
    throw new BadOptionError(
      flag,
      `${flag} must be a duration from ${formatDurationMs(range.min)} to ${formatDurationMs(range.max)}, got "${String(v)}"`,
    );
  return v;
}

function int(flag: string, v: unknown, min: number, max?: number): number {
  if (typeof v !== 'number' && typeof v !== 'string')
    throw new BadOptionError(flag, `${flag} must be an integer >= ${min}, got "${String(v)}"`);
  return parseInteger(flag, v, min, max);
}

/** The raw strings commander hands over for `kalab loadgen` (flag names as commander camel-cases them). */
export interface LoadgenFlags {
  connections?: string;
  streams?: string;
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
  method?: string;
  /** `-H`, repeatable (commander collects them). */
  header?: string[];
  body?: string;
  bodyFile?: string;
  insecure?: boolean;
  ca?: string;
  servername?: string;
  tlsResume?: string;
}

/** Turns the CLI's strings into LoadOptions; every error names the flag. */
export function optionsFromFlags(target: string | undefined, f: LoadgenFlags): LoadOptions {
  if (!target)
    throw new BadOptionError(FLAGS.target, 'a target URL is required, e.g. kalab loadgen http://127.0.0.1:8080/');
  const o: LoadOptions = { target };
  if (f.engine !== undefined) o.engine = f.engine as EngineName;
  const L = LIMITS;
  const integer = (flag: string, v: string, r: { min: number; max: number }) => parseInteger(flag, v, r.min, r.max);
  if (f.connections !== undefined) o.connections = integer(FLAGS.connections, f.connections, L.connections);
  if (f.streams !== undefined) o.streams = integer(FLAGS.streams, f.streams, L.streams);
  if (f.requests !== undefined) o.requests = integer(FLAGS.requests, f.requests, L.requests);
  if (f.duration !== undefined) o.durationMs = parseDuration(FLAGS.durationMs, f.duration, 's', L.durationMs);
  if (f.rate !== undefined) {
    const r = /^\s*\d+(\.\d+)?\s*$/.test(f.rate) ? Number(f.rate) : Number.NaN;
    if (!(r > L.rate.min && r <= L.rate.max)) throw badRate(f.rate);
    o.rate = r;
  }
  if (f.workers !== undefined) o.workers = integer(FLAGS.workers, f.workers, L.workers);
  if (f.keepalive === false) o.keepAlive = false;
  if (f.consumeBody === false) o.consumeBody = false;
  if (f.maxIdle !== undefined) o.maxIdle = integer(FLAGS.maxIdle, f.maxIdle, L.maxIdle);
  if (f.pipelining !== undefined) o.pipelining = integer(FLAGS.pipelining, f.pipelining, L.pipelining);
  if (f.closeBy !== undefined) o.closeBy = f.closeBy as 'client' | 'server';
  if (f.timeout !== undefined) o.timeoutMs = parseDuration(FLAGS.timeoutMs, f.timeout, 's', L.timeoutMs);
  if (f.localAddress !== undefined)
    o.localAddresses = f.localAddress
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  requestFromFlags(o, f);
  tlsFromFlags(o, f);
  return o;
}

/** -m, -H, -b, --body-file: the request every engine sends. A body file is read once, here. */
function requestFromFlags(o: LoadOptions, f: LoadgenFlags): void {
  if (f.method !== undefined) o.method = checkMethod(FLAGS.method, f.method);
  if (f.header !== undefined) o.headers = f.header.map((line) => parseHeaderLine(FLAGS.headers, line));
  if (f.body !== undefined && f.bodyFile !== undefined)
    throw new BadOptionError(FLAGS.body, `${FLAGS.body} and ${FLAGS.bodyFile} cannot be used together: give one body`);
  if (f.body !== undefined) o.body = f.body;
  if (f.bodyFile !== undefined) {
    const bytes = readLimited(FLAGS.bodyFile, f.bodyFile, LIMITS.bodyBytes.max);
    // Text stays text (readable in a report and over the agent protocol); other bytes travel as base64.
    const text = bytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(bytes)) o.body = text;
    else {
      o.body = bytes.toString('base64');
      o.bodyEncoding = 'base64';
    }
  }
}

/** -k, --ca, --servername, --tls-resume. */
function tlsFromFlags(o: LoadOptions, f: LoadgenFlags): void {
  if (f.insecure === true) o.insecure = true;
  if (f.ca !== undefined) o.ca = readLimited(FLAGS.ca, f.ca, LIMITS.caBytes.max).toString('utf8');
  if (f.servername !== undefined) o.servername = f.servername;
  if (f.tlsResume !== undefined) {
    if (f.tlsResume !== 'on' && f.tlsResume !== 'off')
      throw new BadOptionError(FLAGS.tlsResume, `${FLAGS.tlsResume} must be on or off, got "${f.tlsResume}"`);
    o.tlsResume = f.tlsResume === 'on';
  }
}
