import http from 'node:http';
import type { Socket } from 'node:net';
import { nodeHttpFailure } from '@kalab/core';
import { type DriverContext, type DriverExtras, sleep, trackRequestSocket, usSince } from './driver.js';

/**
 * node:http Agent workers, the article's client in Node's words: `concurrency` loops of
 * `requests` GETs, `maxIdle` = maxFreeSockets (Go's MaxIdleConnsPerHost), bodies read or
 * not. A response whose body is never read keeps its socket out of the pool, exactly like
 * an unclosed resp.Body in Go.
 */
export async function httpPoolDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const stats = ctx.stats;
  const agent = new http.Agent({
    keepAlive: client.keepAlive,
    maxFreeSockets: client.maxIdle === null ? Number.POSITIVE_INFINITY : Math.max(1, client.maxIdle),
    maxSockets: Number.POSITIVE_INFINITY,
  });
  const sockets = new Set<Socket>();
  const inFlight = new Set<http.ClientRequest>();

  const one = () =>
    new Promise<void>((resolve) => {
      const startedAt = performance.now();
      stats.c.sent++;
      const req = http.get({ host: ctx.host, port: ctx.port, path: '/', agent });
      inFlight.add(req);
      const finish = () => {
        inFlight.delete(req);
        resolve();
      };
      trackRequestSocket(req, stats, sockets);
      req.on('response', (res) => {
        if (client.consumeBody) {
          res.resume();
          res.once('end', () => {
            stats.response(res.statusCode ?? 0, usSince(startedAt));
            finish();
          });
          res.once('error', finish);
        } else {
          // Headers arrived; the body stays unread, as in `_, err := http.Get(url)`.
          stats.response(res.statusCode ?? 0, usSince(startedAt));
          finish();
        }
      });
      req.on('error', (err) => {
        stats.failed(nodeHttpFailure(err, req.socket));
        finish();
      });
    });

  const onAbort = () => {
    for (const req of inFlight) req.destroy();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const worker = async () => {
      for (let i = 0; i < client.requests && !ctx.signal.aborted; i++) {
        if (i > 0) await sleep(ctx.gapMs, ctx.signal);
        await one();
      }
    };
    await Promise.all(Array.from({ length: client.concurrency }, worker));
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    if (client.closeAtEnd === 'client') {
      // Like the Go program exiting: the client closes every connection it still holds,
      // pooled or stuck behind an unread body.
      agent.destroy();
      for (const s of sockets) s.destroy();
    }
  }
  return {};
}
