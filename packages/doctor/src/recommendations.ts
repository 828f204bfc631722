import { STATUS_CODES } from 'node:http';
import type { DoctorProbe } from './probe.js';

/** Go's http.Transport default IdleConnTimeout. */
const GO_IDLE_CONN_TIMEOUT_MS = 90_000;
/** undici's default keepAliveTimeout and keepAliveTimeoutThreshold. */
const UNDICI_KEEP_ALIVE_TIMEOUT_MS = 4_000;
const UNDICI_THRESHOLD_MS = 2_000;

/**
 * The client's idle timeout for a server that closes idle connections after
 * `serverMs`: below it by max(1 s, 10 %), so the client always closes first and
 * never reuses a connection the server is closing (the idle-timeout race).
 */
export function clientIdleTimeoutMs(serverMs: number): number {
  // A measurement reads a few ms short (2999 for nginx's 3 s): snap to 100 ms before taking the margin.
  const server = serverMs >= 1_000 ? Math.round(serverMs / 100) * 100 : serverMs;
  const margin = Math.max(1_000, server * 0.1);
  const below = server - margin;
  const ms = below > 0 ? below : server / 2;
  return Math.max(1, Math.floor(ms / 100) * 100 || Math.floor(ms));
}

/** `timeout=5, max=100` → 5000 (ms), or null. */
export function advertisedTimeoutMs(header: string | null): number | null {
  if (!header) return null;
  const m = /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(header);
  return m ? Number(m[1]) * 1_000 : null;
}

/** `431 Request Header Fields Too Large` when the first answer was a 4xx or 5xx that closed its connection; else null. */
export function refusedStatus(probe: DoctorProbe): string | null {
  const first = probe.observations.first;
  if (!first || first.statusCode < 400 || !first.closeAfter) return null;
  return `${first.statusCode} ${STATUS_CODES[first.statusCode] ?? 'error'}`;
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Plain-language advice with the exact option names of undici, node:http's Agent and Go's http.Transport. */
export function recommend(probe: DoctorProbe): string[] {
  const out: string[] = [];
  const obs = probe.observations;

  if (obs.first === null) {
    out.push(
      "The server does not answer HTTP/1.1 on this port, only HTTP/2: HTTP/1.1 clients (node:http, Go's default " +
        'Transport without TLS) cannot use it. One HTTP/2 connection carries many concurrent streams, so a pool of one ' +
        'connection per origin is enough.',
    );
  } else if (!probe.keepAlive && !obs.first.closeAfter && !closedByServer(obs.maxRequests?.endedBy)) {
    out.push(
      'Keep-alive could not be confirmed: the second request on a connection got no answer within the budget ' +
        `(${obs.maxRequests?.endedBy ?? 'not tried'}). Run again with a longer --budget.`,
    );
  } else if (!probe.keepAlive && refusedStatus(probe) !== null) {
    out.push(
      `The server refused the probe's request (${refusedStatus(probe)}) and closed the connection: keep-alive ` +
        'cannot be judged from a refused request. Probe a URL the server answers with 2xx or 3xx' +
        (obs.first.statusCode === 431
          ? ' (431: the request head was larger than the server allows; its header size limit is very low)'
          : '') +
        '.',
    );
  } else if (!probe.keepAlive) {
    out.push(
      'The server closes the connection after every response, so each request pays a new TCP handshake and ' +
        'leaves a TIME_WAIT socket behind. Enable keep-alive on the server, or stop pooling for this host: ' +
        'undici `new Agent({ pipelining: 0 })` (0 disables keep-alive), node:http `new http.Agent({ keepAlive: false })`, ' +
        'Go `&http.Transport{ DisableKeepAlives: true }`.',
    );
  } else {
    out.push(...idleAdvice(probe));
    const max = probe.maxRequestsPerConnection;
    if (max !== null) {
      out.push(
        `The server closes a connection after ${max} requests: a pooled connection is replaced every ${max} requests ` +
          '(one more handshake, one more TIME_WAIT). A request sent on a connection just as the server closes it fails ' +
          'with ECONNRESET: retry idempotent requests (undici `RetryAgent`; Go retries idempotent requests on a reused ' +
          'connection by itself; node:http does not retry).',
      );
    } else if (obs.maxRequests?.endedBy === 'cap' || obs.maxRequests?.endedBy === 'byte-cap') {
      out.push(`No per-connection request limit up to ${obs.maxRequests.served} requests.`);
    }
    out.push(
      'Pool sizing: allow as many connections as requests in flight and keep as many idle, or the extra ones are ' +
        'closed after each burst and reopened (churn, TIME_WAIT): undici `connections` (per origin, unlimited by default), ' +
        'node:http Agent `maxSockets` (unlimited by default) and `maxFreeSockets` (256 by default), Go `MaxConnsPerHost` and ' +
        '`MaxIdleConnsPerHost` (2 by default: 10 concurrent workers then open far more than 10 connections).',
    );
    if (probe.pipelining === true) {
      out.push(
        'The server answers pipelined requests; undici `pipelining` above 1 can use them, but one slow response ' +
          'delays every one queued behind it: keep `pipelining: 1` unless requests are small, uniform and idempotent.',
      );
    } else if (probe.pipelining === false) {
      out.push('The server does not answer pipelined requests: keep undici `pipelining: 1` (the default).');
    }
  }

  const r = probe.tls?.resumption;
  if (r && !r.resumed) {
    out.push(
      'The server does not resume TLS sessions: every new connection pays a full handshake (certificate and its ' +
        'signature). Keep connections alive, and see that the server enables tickets or a session cache.',
    );
  } else if (r?.resumed) {
    out.push(
      `The server resumes TLS sessions (by ${r.by === 'session-id' ? 'session ID' : 'ticket'}): a client that must open new ` +
        "connections saves most of each handshake if it caches sessions — Go's tls.Config needs a ClientSessionCache " +
        "(tls.NewLRUClientSessionCache); Node's https.Agent and undici cache them by default.",
    );
  }
  if (probe.http2.alpn === 'h2') {
    out.push(
      'The server negotiates HTTP/2 over TLS (ALPN h2): one connection carries many concurrent streams. undici ' +
        '`new Agent({ allowH2: true })`; Go uses it by itself (a custom Transport needs `ForceAttemptHTTP2: true`); ' +
        'node:http never does (use node:http2).',
    );
  }
  if (probe.http2.h2c === true) {
    out.push(
      'The server speaks HTTP/2 over cleartext with prior knowledge (h2c): node:http2 `http2.connect(url)`, ' +
        'Go with `Protocols.SetUnencryptedHTTP2(true)` (Go 1.24+) or golang.org/x/net/http2/h2c.',
    );
  }
  return out;
}

function closedByServer(end: string | undefined): boolean {
  return end === 'connection-close' || end === 'fin' || end === 'reset' || end === 'error';
}

function idleAdvice(probe: DoctorProbe): string[] {
  const out: string[] = [];
  const idle = probe.observations.idle;
  const hintMs = advertisedTimeoutMs(probe.advertisedKeepAlive);
  const measured = probe.idleTimeoutMs;
  const silent = idle?.samplesMs.length === 0 && idle.deadAfterMs !== null;

  if (measured !== null && !silent) {
    const safe = clientIdleTimeoutMs(measured);
    out.push(
      `The server closes idle connections after ${seconds(measured)} (${measured} ms from the end of a response to its FIN). ` +
        `Keep the client's idle timeout below that with a margin: ${safe} ms.`,
    );
    out.push(clientOptions(safe));
    const tolerance = Math.max(500, measured * 0.1);
    if (hintMs !== null && measured < hintMs - tolerance) {
      out.push(
        `The server advertises \`Keep-Alive: ${probe.advertisedKeepAlive}\` but closed idle connections after ` +
          `${seconds(measured)}, sooner: clients that trust the hint (undici, node:http Agent) will reuse connections ` +
          'the server is closing and get ECONNRESET. Set the client timeouts above explicitly.',
      );
    } else if (hintMs !== null && measured > hintMs + tolerance) {
      out.push(
        `The server advertises \`Keep-Alive: ${probe.advertisedKeepAlive}\` and closes idle connections later, after ` +
          `${seconds(measured)}: clients that follow the hint close first, which is safe (Node's http server, for one, ` +
          'advertises its keepAliveTimeout rounded down to seconds and waits 1 s longer).',
      );
    }
  } else if (silent) {
    const alive = idle!.aliveAfterMs;
    const dead = idle!.deadAfterMs!;
    const bound = alive ?? Math.floor(dead / 2);
    const safe = clientIdleTimeoutMs(bound);
    out.push(
      `Idle connections were dropped without a FIN (reuse failed after ${seconds(dead)} idle` +
        (alive !== null ? `, worked after ${seconds(alive)}` : '') +
        '): a NAT, firewall or load balancer on the path forgets them silently, and reuse then fails with ECONNRESET or hangs. ' +
        `Keep the client's idle timeout below ${seconds(alive ?? dead)}: ${safe} ms.`,
    );
    out.push(clientOptions(safe));
  } else {
    const waited = idle?.waitedMs ?? probe.observations.elapsedMs;
    const hinted =
      hintMs !== null && hintMs > waited
        ? ` It advertises \`Keep-Alive: ${probe.advertisedKeepAlive}\`: run with --budget ${Math.ceil(hintMs / 1000) + 10}s to check that.`
        : ' Run with a longer --budget to search further.';
    out.push(
      `No idle close within ${seconds(waited)} (the budget): the server keeps idle connections at least that long.${hinted} ` +
        'Keep a finite client idle timeout anyway, since NATs and load ' +
        `balancers drop idle flows silently: undici \`keepAliveTimeout\` (${UNDICI_KEEP_ALIVE_TIMEOUT_MS} ms by default; a ` +
        `server hint replaces it, minus \`keepAliveTimeoutThreshold\` ${UNDICI_THRESHOLD_MS} ms, up to \`keepAliveMaxTimeout\`), ` +
        `Go \`IdleConnTimeout\` (${GO_IDLE_CONN_TIMEOUT_MS / 1000} s by default), node:http Agent \`timeout\` ` +
        '(none by default: free sockets wait until the server closes them).',
    );
  }
  return out;
}

function clientOptions(safe: number): string {
  const goIdle = safe % 1_000 === 0 ? `${safe / 1_000} * time.Second` : `${safe} * time.Millisecond`;
  return (
    `undici: \`new Agent({ keepAliveTimeout: ${safe}, keepAliveMaxTimeout: ${safe} })\` (keepAliveMaxTimeout caps a ` +
    `Keep-Alive hint, from which undici first subtracts \`keepAliveTimeoutThreshold\`, ${UNDICI_THRESHOLD_MS} ms by default). ` +
    `node:http: \`new http.Agent({ keepAlive: true, timeout: ${safe} })\` (\`timeout\` is what closes idle free sockets, ` +
    'what the agentkeepalive package calls `freeSocketTimeout`; `keepAliveMsecs` is only the delay of TCP keep-alive probes). ' +
    `Go: \`&http.Transport{ IdleConnTimeout: ${goIdle} }\`` +
    (safe < GO_IDLE_CONN_TIMEOUT_MS ? ` (the default 90 s is longer than this server's).` : '.')
  );
}
