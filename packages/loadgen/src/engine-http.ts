import { Agent, type IncomingMessage, request } from 'node:http';
import type { Socket, TcpNetConnectOpts } from 'node:net';
import { nodeHttpFailure } from '@kalab/core';
import type { Done, Engine, EngineContext } from './engine.js';
import { targetParts } from './engine.js';
import { http1HeaderArray } from './request-shape.js';
import { timeoutError } from './watchdog.js';

const kUsed = Symbol('kalab.used');

/**
 * node:http engine: an Agent whose `maxSockets` is the concurrency (`-c`) and whose
 * `maxFreeSockets` is `--max-idle` (Go's MaxConnsPerHost / MaxIdleConnsPerHost). Every
 * socket the Agent creates is counted, whether or not a request ever used it.
 * `--no-consume-body`: responses are never read, so node:http never frees their sockets;
 * the Agent then has no socket limit (Go's default), and each request opens a new one.
 * `--no-keepalive`: an Agent with `keepAlive: false` and no socket limit, so node sends
 * `Connection: close` and every request has a connection of its own.
 * https://: the Agent's connections are TLS sockets from the one dialer (session cache as
 * https.Agent's, on by default; --tls-resume off turns it off), so the keep-alive knobs stay the same.
 */
export function createHttpEngine(ctx: EngineContext): Engine {
  const { options, stats } = ctx;
  const { host, port } = targetParts(ctx.url);
  const consume = options.consumeBody;
  // Without keep-alive the socket limit is left to the driver (it keeps at most -c requests in
  // flight): node sends `Connection: keep-alive` and hands sockets on to queued requests
  // whenever an Agent has a finite maxSockets, even with keepAlive false.
  const agent = new Agent({
    keepAlive: options.keepAlive,
    maxSockets: consume && options.keepAlive ? ctx.slice.connections : Number.POSITIVE_INFINITY,
  });
  // Set after construction: the constructor turns 0 into its default of 256.
  agent.maxFreeSockets = ctx.slice.maxIdle;
  const sockets = new Set<Socket>();
  const held = new Set<IncomingMessage>();

  (agent as unknown as { createConnection: (o: TcpNetConnectOpts, cb?: unknown) => Socket }).createConnection = () => {
    const localAddress = ctx.nextLocalAddress();
    const t = performance.now();
    const s = ctx.dial({ localAddress });
    sockets.add(s);
    s.once('connect', () => {
      stats.opened((performance.now() - t) * 1000);
      s.once('close', () => stats.closed());
    });
    s.once('close', () => sockets.delete(s));
    return s;
  };

  // --timeout through node's own socket timeout (no timer of ours): the request's socket
  // idle for timeoutMs (connect included) fails the request as ETIMEDOUT and is destroyed.
  const shape = ctx.shape;
  // Raw headers (an array): the order is kept and node adds no Host of its own.
  const reqOpts = {
    agent,
    host,
    port,
    path: shape.path,
    method: shape.method,
    headers: http1HeaderArray(shape) as unknown as Record<string, string>,
    timeout: options.timeoutMs,
  };
  const body = shape.body;
  return {
    send(_slot: number, done: Done): void {
      let d: Done | null = done;
      const finish = (err: Error | null, status: number) => {
        const f = d;
        d = null;
        f?.(err, status);
      };
      const req = request(reqOpts, (res) => {
        // req.reusedSocket misses sockets handed straight to a queued request; mark sockets instead.
        const sock = req.socket as (Socket & { [kUsed]?: boolean }) | null;
        if (sock?.[kUsed] || req.reusedSocket) stats.c.reusedRequests++;
        else if (sock) sock[kUsed] = true;
        const status = res.statusCode ?? 0;
        if (!consume) {
          // Never read: node:http keeps the socket until the body is consumed.
          held.add(res);
          res.on('error', () => {});
          finish(null, status);
          return;
        }
        res.on('end', () => finish(null, status));
        res.on('error', (err) => finish(err, 0));
        res.resume();
      });
      // "socket hang up" is a FIN when the socket read its end, a RST when the read failed.
      req.on('error', (err) => finish(nodeHttpFailure(err, req.socket), 0));
      req.on('timeout', () => req.destroy(timeoutError(options.timeoutMs)));
      if (body !== null) req.end(body);
      else req.end();
    },
    async close(): Promise<void> {
      for (const r of held) r.destroy();
      agent.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}
