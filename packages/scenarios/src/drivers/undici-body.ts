import type { Dispatcher } from 'undici';
import { buildConnector, Pool } from 'undici';
import { type DriverContext, type DriverExtras, sleep, usSince } from './driver.js';

/**
 * undici-unread-body: sequential `pool.request()` calls whose bodies are never read.
 * undici frees a connection once the response is parsed to its end, which a small body
 * reaches by itself; a body larger than the stream's buffer stalls the parser until read.
 */
export async function undiciBodyDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const stats = ctx.stats;
  // undici's own connector, timed: connect time is from the pool asking for a socket to the handshake.
  const base = buildConnector({});
  const pool = new Pool(`http://${ctx.host}:${ctx.port}`, {
    connections: client.maxIdle,
    // A stalled response must not hold the phase: the phase timeout aborts requests instead.
    bodyTimeout: 0,
    connect: (options, callback) => {
      const connecting = performance.now();
      base(options, (...args) => {
        if (args[0] === null) stats.opened(usSince(connecting));
        callback(...args);
      });
    },
  });
  pool.on('disconnect', () => stats.closed());
  const bodies: Dispatcher.ResponseData['body'][] = [];
  try {
    for (let w = 0; w < client.concurrency; w++) {
      for (let i = 0; i < client.requests && !ctx.signal.aborted; i++) {
        if (i > 0) await sleep(ctx.gapMs, ctx.signal);
        const startedAt = performance.now();
        const openedBefore = stats.c.opened;
        stats.c.sent++;
        try {
          const res = await pool.request({ path: '/', method: 'GET', signal: ctx.signal });
          if (stats.c.opened === openedBefore) stats.c.reusedRequests++;
          stats.response(res.statusCode, usSince(startedAt));
          if (client.consumeBody) await res.body.dump();
          else bodies.push(res.body);
        } catch (err) {
          stats.failed(err);
        }
      }
    }
  } finally {
    for (const b of bodies) {
      b.on('error', () => {}); // destroying an unread body aborts it: expected here
      b.destroy();
    }
    await pool.destroy().catch(() => {});
  }
  return {};
}
