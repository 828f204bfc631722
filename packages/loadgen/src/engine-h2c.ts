import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as h2connect,
  constants as h2constants,
} from 'node:http2';
import { DEFAULTS } from './defaults.js';
import type { Done, Engine, EngineContext } from './engine.js';
import { h2Headers } from './request-shape.js';
import { timeoutError, Watchdog } from './watchdog.js';

/** A stream in flight, for the --timeout watchdog. */
interface InFlight {
  t0: number;
  session: ClientHttp2Session;
  stream: ClientHttp2Stream;
  finish: Done;
}

/**
 * h2 engine (`--engine h2`, alias h2c): HTTP/2 with prior knowledge on http://, ALPN h2 on
 * https:// (through the one dialer: no session cache by default, as http2.connect has none).
 * One session per worker, `-c` concurrent streams on
 * it. A session that dies is replaced on the next request (and counted as a new connection).
 * --timeout: a stream with no complete response in time fails as ETIMEDOUT, and so does
 * every other stream in flight on its session, which is destroyed (a session that leaves a
 * stream unanswered is treated as a dead connection, as the HTTP/1.1 engines treat theirs).
 * At the end of the run sessions close gracefully (GOAWAY, then FIN) within a bounded wait.
 */
export function createH2cEngine(ctx: EngineContext): Engine {
  const { options, stats } = ctx;
  const headers = h2Headers(ctx.shape);
  const body = ctx.shape.body;
  const consume = options.consumeBody;
  const timeoutMs = options.timeoutMs;
  let session: ClientHttp2Session | null = null;
  let streams = 0;
  const sessions = new Set<ClientHttp2Session>();
  const inFlight = new Set<InFlight>();

  const watchdog = new Watchdog(timeoutMs, (now) => {
    for (const r of inFlight) {
      if (now - r.t0 < timeoutMs) continue;
      const dead = r.session;
      const err = timeoutError(timeoutMs);
      for (const o of inFlight) if (o.session === dead) o.finish(err, 0);
      if (session === dead) session = null;
      dead.destroy();
    }
  });

  const getSession = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    streams = 0;
    const s = h2connect(ctx.url.origin, {
      createConnection: () => {
        const localAddress = ctx.nextLocalAddress();
        const t = performance.now();
        const sock = ctx.dial({ localAddress, alpn: ['h2'] });
        sock.once('connect', () => {
          stats.opened((performance.now() - t) * 1000);
          sock.once('close', () => stats.closed());
        });
        return sock;
      },
    });
    s.on('error', () => {});
    s.once('close', () => {
      sessions.delete(s);
      if (session === s) session = null;
    });
    sessions.add(s);
    session = s;
    return s;
  };

  return {
    send(_slot: number, done: Done): void {
      let d: Done | null = done;
      let rec: InFlight | null = null;
      const finish = (err: Error | null, status: number) => {
        const f = d;
        d = null;
        if (rec !== null) inFlight.delete(rec);
        f?.(err, status);
      };
      let status = 0;
      let st: ClientHttp2Stream;
      // Every stream after a session's first rides a reused connection; counted once it has a response.
      let reused = false;
      try {
        const s = getSession();
        reused = streams++ > 0;
        st = s.request({ ...headers }, { endStream: body === null });
        if (body !== null) st.end(body);
        rec = { t0: performance.now(), session: s, stream: st, finish };
        inFlight.add(rec);
      } catch (err) {
        queueMicrotask(() => finish(err as Error, 0));
        return;
      }
      st.on('response', (headers) => {
        status = Number(headers[':status'] ?? 0);
        if (reused) stats.c.reusedRequests++;
        if (!consume) finish(null, status);
      });
      st.on('error', (err) => finish(err, 0));
      if (consume) {
        st.on('end', () => finish(null, status));
        st.resume();
      }
      st.on('close', () => {
        if (d !== null && status !== 0) finish(null, status);
        else if (d !== null)
          finish(
            Object.assign(new Error(`stream closed (rst code ${st.rstCode})`), { code: 'ERR_HTTP2_STREAM_ERROR' }),
            0,
          );
      });
    },
    async close(): Promise<void> {
      watchdog.stop();
      // Streams still in flight here were abandoned at the bound: cancel them (RST_STREAM,
      // an HTTP/2 frame) so each session can close at once, rather than wait for them.
      for (const r of inFlight) if (!r.stream.closed) r.stream.close(h2constants.NGHTTP2_CANCEL);
      inFlight.clear();
      await Promise.all([...sessions].map((s) => closeGracefully(s, DEFAULTS.h2cCloseGraceMs)));
    },
  };
}

/**
 * session.close() sends GOAWAY, lets open streams end, then ends the socket (FIN) and waits
 * for the peer's; destroy() right away may send a RST and leave no TIME_WAIT. Bounded: a
 * session still open after `graceMs` (streams the server never ends, a peer that never
 * closes) is destroyed.
 */
function closeGracefully(s: ClientHttp2Session, graceMs: number): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.destroy();
      resolve();
    }, graceMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (!s.closed) s.close();
  });
}
