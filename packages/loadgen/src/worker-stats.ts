import { LatencyHistogram } from '@kalab/core';

/** Worker → main, each tick and once at the end: cumulative counters plus the interval's histograms. */
export interface StatsEnvelope {
  type: 'stats';
  worker: number;
  final: boolean;
  counters: Counters;
  /** Requests completed during the interval (HdrHistogram compressed base64), µs. */
  latency: string | null;
  connect: string | null;
  errors: Record<string, number>;
  /** Wall time (ms since the run's go) of the first occurrence of each error code, and connections opened by then. */
  firstErrors: Record<string, { atMs: number; afterConnections: number }>;
  /** https:// runs: the interval's handshake times (µs, compressed), and handshakes by protocol and ALPN (cumulative). */
  tls?: TlsEnvelope;
}

interface TlsEnvelope {
  handshake: string | null;
  protocols: Record<string, number>;
  alpn: Record<string, number>;
}

export interface Counters {
  sent: number;
  ok: number;
  non2xx: number;
  failed: number;
  opened: number;
  closed: number;
  reusedRequests: number;
  maxOpen: number;
  /** TLS handshakes completed (https://), and how many of them resumed a session. */
  handshakes: number;
  resumed: number;
  /** h2: streams opened, and the smallest SETTINGS_MAX_CONCURRENT_STREAMS a server announced (0: none). */
  streams?: number;
  peerMaxStreams?: number;
}

/** All counters at zero: a worker's start, and the base an aggregate sums onto. */
export function zeroCounters(): Counters {
  return {
    sent: 0,
    ok: 0,
    non2xx: 0,
    failed: 0,
    opened: 0,
    closed: 0,
    reusedRequests: 0,
    maxOpen: 0,
    handshakes: 0,
    resumed: 0,
    streams: 0,
    peerMaxStreams: 0,
  };
}

/**
 * A worker's counters. Hot paths touch plain numbers and one histogram record; the
 * histograms are encoded once per tick (aggregation per tick, not per event).
 */
export class WorkerStats {
  readonly c: Counters = zeroCounters();
  /** Set for https:// runs (TLS accounting costs nothing on http://). */
  private tls: { handshake: LatencyHistogram; protocols: Record<string, number>; alpn: Record<string, number> } | null =
    null;
  readonly errors: Record<string, number> = {};
  readonly firstErrors: Record<string, { atMs: number; afterConnections: number }> = {};
  private latency = new LatencyHistogram();
  private connect = new LatencyHistogram();
  /** performance.now() at the run's go. */
  t0 = 0;

  constructor(readonly worker: number) {}

  opened(connectUs: number): void {
    const c = this.c;
    c.opened++;
    const open = c.opened - c.closed;
    if (open > c.maxOpen) c.maxOpen = open;
    this.connect.recordUs(connectUs);
  }

  /** A TLS handshake completed on a connection opened before (`opened`): its time from TCP connect, version, ALPN. */
  handshake(us: number, protocol: string | null, alpn: string | false | null, resumed: boolean): void {
    const c = this.c;
    c.handshakes++;
    if (resumed) c.resumed++;
    this.tls ??= { handshake: new LatencyHistogram(), protocols: {}, alpn: {} };
    const t = this.tls;
    t.handshake.recordUs(us);
    const p = protocol ?? 'unknown';
    t.protocols[p] = (t.protocols[p] ?? 0) + 1;
    const a = alpn || 'none';
    t.alpn[a] = (t.alpn[a] ?? 0) + 1;
  }

  closed(): void {
    this.c.closed++;
  }

  response(status: number, latencyUs: number): void {
    if (status >= 200 && status < 300) this.c.ok++;
    else this.c.non2xx++;
    this.latency.recordUs(latencyUs);
  }

  failed(err: unknown): void {
    this.c.failed++;
    this.error(err);
  }

  /** Counts an error by its errno / undici code, without failing a request (e.g. a failed connect no request waited on). */
  error(err: unknown): void {
    const code = errorCode(err);
    const n = this.errors[code];
    if (n === undefined) {
      this.errors[code] = 1;
      this.firstErrors[code] = { atMs: Math.round(performance.now() - this.t0), afterConnections: this.c.opened };
    } else {
      this.errors[code] = n + 1;
    }
  }

  envelope(final: boolean): StatsEnvelope {
    const env: StatsEnvelope = {
      type: 'stats',
      worker: this.worker,
      final,
      counters: { ...this.c },
      latency: this.latency.count > 0 ? this.latency.encode() : null,
      connect: this.connect.count > 0 ? this.connect.encode() : null,
      errors: { ...this.errors },
      firstErrors: { ...this.firstErrors },
    };
    const t = this.tls;
    if (t !== null) {
      env.tls = {
        handshake: t.handshake.count > 0 ? t.handshake.encode() : null,
        protocols: { ...t.protocols },
        alpn: { ...t.alpn },
      };
      t.handshake.reset();
    }
    this.latency.reset();
    this.connect.reset();
    return env;
  }
}

const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** errno code (EADDRNOTAVAIL, ECONNRESET...), undici code (UND_ERR_SOCKET...), or the error's name. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } } | null;
  if (e && typeof e.code === 'string' && e.code.length > 0) {
    // undici wraps the socket's own errno in `cause`; the errno says more than UND_ERR_SOCKET.
    if (e.code === 'UND_ERR_SOCKET' && typeof e.cause?.code === 'string') return e.cause.code;
    // http2 cancels the streams of a session that died; the cause (a refused certificate, a reset) says why.
    if (e.code === 'ERR_HTTP2_STREAM_CANCEL' && typeof e.cause?.code === 'string') return e.cause.code.slice(0, 64);
    // --timeout in every engine counts as ETIMEDOUT (undici's own timeout errors included).
    if (UNDICI_TIMEOUTS.has(e.code)) return 'ETIMEDOUT';
    return e.code.slice(0, 64);
  }
  if (e && typeof e.name === 'string') return e.name.slice(0, 64);
  return 'UNKNOWN';
}
