import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { createConnection } from 'node:net';
import type { Done, Engine, EngineContext } from './engine.js';
import { targetParts } from './engine.js';

/**
 * h2c engine: one HTTP/2 session over cleartext per worker, `-c` concurrent streams on
 * it. A session that dies is replaced on the next request (and counted as a new connection).
 */
export function createH2cEngine(ctx: EngineContext): Engine {
  const { options, stats } = ctx;
  const { host, port, path } = targetParts(ctx.url);
  const consume = options.consumeBody;
  let session: ClientHttp2Session | null = null;
  let streams = 0;
  const sessions = new Set<ClientHttp2Session>();

  const getSession = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    streams = 0;
    const s = h2connect(ctx.url.origin, {
      createConnection: () => {
        const localAddress = ctx.nextLocalAddress();
        const t = performance.now();
        const sock = createConnection(localAddress ? { host, port, localAddress } : { host, port });
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
      const finish = (err: Error | null, status: number) => {
        const f = d;
        d = null;
        f?.(err, status);
      };
      let status = 0;
      let st: ReturnType<ClientHttp2Session['request']>;
      try {
        const s = getSession();
        if (streams++ > 0) stats.c.reusedRequests++;
        st = s.request({ ':path': path, ':method': 'GET' }, { endStream: true });
      } catch (err) {
        queueMicrotask(() => finish(err as Error, 0));
        return;
      }
      st.on('response', (headers) => {
        status = Number(headers[':status'] ?? 0);
        if (!consume) finish(null, status);
      });
      st.on('error', (err) => finish(err, 0));
      if (consume) {
        st.on('end', () => finish(null, status));
        st.resume();
      }
      st.on('close', () => {
        if (d !== null && status !== 0) finish(null, status);
        else if (d !== null) finish(Object.assign(new Error(`stream closed (rst code ${st.rstCode})`), { code: 'ERR_HTTP2_STREAM_ERROR' }), 0);
      });
    },
    async close(): Promise<void> {
      for (const s of sessions) s.destroy();
    },
  };
}
