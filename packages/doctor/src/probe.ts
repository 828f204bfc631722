import { BadOptionError, parseUrl, UnreachableError } from '@kalab/core';
import { DOCTOR_DEFAULTS } from './defaults.js';
import { checkHttp2, type Http2Observation } from './http2-support.js';
import { type IdleObservation, measureIdleTimeout, median } from './idle-timeout.js';
import { type MaxRequestsObservation, measureMaxRequests } from './max-requests.js';
import { checkPipelining, type PipeliningObservation } from './pipelining.js';
import { headerValues, targetFromUrl, type WireResponse } from './probe-connection.js';
import { ProbeContext } from './probe-context.js';
import { recommend } from './recommendations.js';
import { checkTls, type TlsObservation } from './tls-support.js';

/** `kalab doctor --json`, exactly as docs/doctor.md: null where unknown or unlimited. */
export interface DoctorResult {
  target: string;
  keepAlive: boolean;
  /** The server's `Keep-Alive` header, verbatim (`timeout=5, max=100`), or null. */
  advertisedKeepAlive: string | null;
  /** Measured idle time before the server closed a connection (end of response → FIN), ms. */
  idleTimeoutMs: number | null;
  maxRequestsPerConnection: number | null;
  pipelining: boolean | null;
  http2: { h2c: boolean | null; alpn: string | null };
  /**
   * https:// only (null for http://): the TLS version, the ALPN protocol picked from [h2, http/1.1],
   * and whether a new connection resumed the previous one's session (by ticket or session ID).
   */
  tls: (TlsObservation & { alpn: string | null }) | null;
  recommendations: string[];
}

/** Everything the probe saw, for the human-readable table and for tests. */
export interface DoctorObservations {
  budgetMs: number;
  elapsedMs: number;
  /** Most connections the probe held open to the target at once. */
  maxOpenConnections: number;
  /** The first HTTP/1.1 response; null when the target speaks only HTTP/2. */
  first: {
    statusCode: number;
    httpVersion: string;
    connection: string | null;
    closeAfter: boolean;
    /** Why the server closes after this response (null when it keeps the connection). */
    closeReason: CloseReason | null;
  } | null;
  idle: IdleObservation | null;
  maxRequests: MaxRequestsObservation | null;
  pipelining: PipeliningObservation | null;
  http2: Http2Observation;
}

export interface DoctorProbe extends DoctorResult {
  observations: DoctorObservations;
}

export interface ProbeOptions {
  /** Time for the whole probe, every phase included (default 60 s). */
  budgetMs?: number;
  signal?: AbortSignal;
  /** Sequential requests on one connection before calling it unlimited (default 1000). */
  maxRequestsCap?: number;
  /** Verify https certificates (default true). */
  rejectUnauthorized?: boolean;
  /** One line per phase, for a progress display. */
  onProgress?: (message: string) => void;
}

/**
 * Finds out what a server really does with persistent connections, within a time
 * budget and with at most a handful of connections open to it: keep-alive or not,
 * its Keep-Alive header, its real idle timeout, its maximum requests per connection,
 * pipelining, HTTP/2; then says how to configure clients for it.
 * It talks only to the URL it is given. Throws BadOptionError for a bad URL or option
 * and UnreachableError when the first connection or response cannot be had.
 */
export async function probeKeepAlive(url: string | URL, options: ProbeOptions = {}): Promise<DoctorProbe> {
  const parsed = parseUrl('URL', typeof url === 'string' ? url : url.href);
  const budgetMs = options.budgetMs ?? DOCTOR_DEFAULTS.budgetMs;
  if (
    !Number.isFinite(budgetMs) ||
    budgetMs < DOCTOR_DEFAULTS.apiMinBudgetMs ||
    budgetMs > DOCTOR_DEFAULTS.maxBudgetMs
  ) {
    throw new BadOptionError(
      'budgetMs',
      `budgetMs must be from ${DOCTOR_DEFAULTS.apiMinBudgetMs} to ${DOCTOR_DEFAULTS.maxBudgetMs}, got ${budgetMs}`,
    );
  }
  const cap = options.maxRequestsCap ?? DOCTOR_DEFAULTS.maxRequestsCap;
  if (!Number.isInteger(cap) || cap < 2)
    throw new BadOptionError('maxRequestsCap', `maxRequestsCap must be an integer >= 2, got ${cap}`);
  const progress = options.onProgress ?? (() => {});
  const ctx = new ProbeContext(targetFromUrl(parsed, options.rejectUnauthorized ?? true), budgetMs, options.signal);

  try {
    progress(`connecting to ${ctx.target.host}:${ctx.target.port}`);
    const watcher = await ctx.connect();
    const firstRes = await watcher.request(ctx.stepMs(), ctx.signal);
    if (!firstRes) {
      const silent = watcher.bytesReceived === 0 && !watcher.closed;
      const why = watcher.error
        ? `: ${watcher.error.message}`
        : watcher.closed
          ? ': it closed the connection'
          : silent
            ? ': it accepted the connection and sent nothing'
            : '';
      watcher.destroy();
      await watcher.whenClosed;
      // Silence is no sign of HTTP/2 (an h2c-only port answers an HTTP/1.1 request with a frame or
      // a close): give up after the one step (10 s), as docs/doctor.md says.
      if (silent) {
        throw new UnreachableError(
          `no HTTP response from ${parsed.host} within ${Math.round(ctx.elapsedMs())} ms${why}`,
        );
      }
      // A port that speaks only HTTP/2 (an h2c listener) answers HTTP/1.1 with an h2 frame or a close.
      const h2 = ctx.remaining() > 0 ? await checkHttp2(ctx) : { h2c: null, alpn: null };
      if (h2.h2c === true || h2.alpn === 'h2') return http2Only(parsed, budgetMs, ctx, h2);
      throw new UnreachableError(`no HTTP response from ${parsed.host} within ${Math.round(ctx.elapsedMs())} ms${why}`);
    }
    const advertised = headerValues(firstRes.headers, 'keep-alive');
    const connection = headerValues(firstRes.headers, 'connection');
    const first = {
      statusCode: firstRes.statusCode,
      httpVersion: firstRes.httpVersion,
      connection: connection.length ? connection.join(', ') : null,
      closeAfter: firstRes.closeAfter,
      closeReason: closeReasonOf(firstRes),
    };

    let idle: IdleObservation | null = null;
    let maxReq: MaxRequestsObservation | null = null;
    let pipe: PipeliningObservation | null = null;
    let h2: Http2Observation;
    if (firstRes.closeAfter) {
      // Connection: close (or HTTP/1.0, or a close-delimited body): nothing to hold idle or reuse.
      watcher.destroy();
      await watcher.whenClosed;
      progress('the server closes after every response; checking HTTP/2');
      h2 = await checkHttp2(ctx);
    } else {
      progress(
        `holding idle connections (up to ${Math.round(ctx.remaining() / 1000)} s), counting requests per connection, pipelining, HTTP/2`,
      );
      const idleDone = measureIdleTimeout(ctx, watcher);
      const maxDone = measureMaxRequests(ctx, cap);
      const pipeAndH2 = checkPipelining(ctx).then(async (p) => [p, await checkHttp2(ctx)] as const);
      [idle, maxReq, [pipe, h2]] = await Promise.all([idleDone, maxDone, pipeAndH2]);
    }
    if (ctx.target.tls) progress('checking TLS session resumption');
    const tlsObs = ctx.remaining() > 0 ? await checkTls(ctx) : null;

    const keepAlive = !firstRes.closeAfter && ((maxReq?.served ?? 0) >= 2 || (pipe?.answered ?? 0) >= 2);
    const result: DoctorProbe = {
      target: parsed.href,
      keepAlive,
      advertisedKeepAlive: advertised.length ? advertised.join(', ') : null,
      idleTimeoutMs: keepAlive ? idleTimeoutFrom(idle) : null,
      maxRequestsPerConnection: maxRequestsFrom(keepAlive, firstRes.closeAfter, maxReq),
      pipelining: firstRes.closeAfter ? false : (pipe?.supported ?? null),
      http2: { h2c: h2.h2c, alpn: h2.alpn },
      tls: tlsOf(parsed, tlsObs, h2.alpn),
      recommendations: [],
      observations: {
        budgetMs,
        elapsedMs: 0,
        maxOpenConnections: ctx.maxOpen,
        first,
        idle,
        maxRequests: maxReq,
        pipelining: pipe,
        http2: h2,
      },
    };
    return finish(result, ctx);
  } finally {
    ctx.dispose();
  }
}

/** The result for a target that answers HTTP/2 but not HTTP/1.1: nothing HTTP/1.1 to measure. */
function http2Only(parsed: URL, budgetMs: number, ctx: ProbeContext, h2: Http2Observation): DoctorProbe {
  const result: DoctorProbe = {
    target: parsed.href,
    keepAlive: false,
    advertisedKeepAlive: null,
    idleTimeoutMs: null,
    maxRequestsPerConnection: null,
    pipelining: null,
    http2: { h2c: h2.h2c, alpn: h2.alpn },
    tls: tlsOf(parsed, null, h2.alpn),
    recommendations: [],
    observations: {
      budgetMs,
      elapsedMs: 0,
      maxOpenConnections: ctx.maxOpen,
      first: null,
      idle: null,
      maxRequests: null,
      pipelining: null,
      http2: h2,
    },
  };
  return finish(result, ctx);
}

/** The result's tls section: null for http://, unknowns as null when the check could not run. */
function tlsOf(parsed: URL, obs: TlsObservation | null, alpn: string | null): DoctorResult['tls'] {
  if (parsed.protocol !== 'https:') return null;
  return { version: obs?.version ?? null, alpn, resumption: obs?.resumption ?? null };
}

/** Every probe result ends the same way: recommendations from what was seen, and the time taken. */
function finish(result: DoctorProbe, ctx: ProbeContext): DoctorProbe {
  result.recommendations = recommend(result);
  result.observations.elapsedMs = Math.round(ctx.elapsedMs());
  return result;
}

function idleTimeoutFrom(idle: IdleObservation | null): number | null {
  if (!idle) return null;
  if (idle.samplesMs.length > 0) return Math.round(median(idle.samplesMs));
  // No FIN: the longest gap a reused connection survived is what a client can count on.
  if (idle.deadAfterMs !== null) return idle.aliveAfterMs;
  return null;
}

function maxRequestsFrom(keepAlive: boolean, firstClose: boolean, obs: MaxRequestsObservation | null): number | null {
  if (firstClose) return 1;
  if (!obs) return null;
  switch (obs.endedBy) {
    case 'connection-close':
    case 'fin':
    case 'reset':
      return keepAlive || obs.served === 1 ? obs.served : null;
    default:
      return null; // the cap (unlimited as far as we looked), the budget, or no answer
  }
}

/** Why a response is the last on its connection. */
export type CloseReason = 'connection-close' | 'http10' | 'until-close' | 'upgrade';

function closeReasonOf(res: WireResponse): CloseReason | null {
  if (!res.closeAfter) return null;
  if (res.statusCode === 101) return 'upgrade';
  const tokens = headerValues(res.headers, 'connection').flatMap((v) => v.toLowerCase().split(','));
  if (tokens.some((t) => t.trim() === 'close')) return 'connection-close';
  // HTTP/1.0 closes unless the response says keep-alive; a 1.1 response without a close token ends at the close.
  return res.httpVersion === '1.0' && !tokens.some((t) => t.trim() === 'keep-alive') ? 'http10' : 'until-close';
}

/** The JSON of a probe (docs/doctor.md), without the observations. */
export function doctorJson(probe: DoctorResult): DoctorResult {
  return {
    target: probe.target,
    keepAlive: probe.keepAlive,
    advertisedKeepAlive: probe.advertisedKeepAlive,
    idleTimeoutMs: probe.idleTimeoutMs,
    maxRequestsPerConnection: probe.maxRequestsPerConnection,
    pipelining: probe.pipelining,
    http2: { h2c: probe.http2.h2c, alpn: probe.http2.alpn },
    tls: probe.tls,
    recommendations: probe.recommendations,
  };
}
