import { type ClientHttp2Session, connect } from 'node:http2';
import { type DriverContext, type DriverExtras, usSince } from './driver.js';

/**
 * http2-multiplexing: one HTTP/2 session over cleartext, `concurrency` streams sent at once,
 * `requests` rounds. The session is closed gracefully (GOAWAY, then FIN), so the one
 * connection ends in one TIME_WAIT like any other instead of a reset.
 */
export async function h2cDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const stats = ctx.stats;
  if (ctx.h2cPort === null) throw new Error('the h2c phase needs the server h2c listener');
  let session: ClientHttp2Session | null = null;
  let streams = 0;
  const open = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const startedAt = performance.now();
    const s = connect(`http://${ctx.host}:${ctx.h2cPort}`);
    let opened = false;
    s.once('connect', () => {
      opened = true;
      stats.opened(usSince(startedAt));
    });
    s.once('close', () => {
      if (opened) stats.closed();
    });
    s.on('error', () => {});
    session = s;
    return s;
  };
  const one = (s: ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const startedAt = performance.now();
      stats.c.sent++;
      if (streams++ > 0) stats.c.reusedRequests++;
      const st = s.request({ ':path': '/', ':method': 'GET' }, { endStream: true, signal: ctx.signal });
      let status = 0;
      st.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
      });
      st.on('error', (err) => {
        stats.failed(err);
        resolve();
      });
      st.on('end', () => {
        stats.response(status, usSince(startedAt));
        resolve();
      });
      if (client.consumeBody) st.resume();
    });
  try {
    for (let round = 0; round < client.requests && !ctx.signal.aborted; round++) {
      const s = open();
      await Promise.all(Array.from({ length: client.concurrency }, () => one(s)));
    }
  } finally {
    const s = session as ClientHttp2Session | null;
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.close(resolve));
  }
  return { streams };
}
