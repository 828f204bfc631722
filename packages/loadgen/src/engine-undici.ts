import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { Client, Pool, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import type { Done, Engine, EngineContext } from './engine.js';

const kUsed = Symbol('kalab.used');

/**
 * undici engine. Closed model: one Client per connection (exactly `-c` connections, each
 * with `-p` requests in flight), requests dispatched with a bare handler (no streams).
 * Open model: a Pool of `-c` connections. `--no-consume-body`: a Pool without a
 * connection limit and `request()` whose body is never read, so a connection stays busy
 * exactly as long as undici itself keeps it busy.
 */
export function createUndiciEngine(ctx: EngineContext): Engine {
  const { options, slice, stats, url } = ctx;
  const origin = url.origin;
  const path = `${url.pathname}${url.search}`;
  const base = buildConnector({ timeout: options.connectTimeoutMs });

  // Every connection undici opens goes through here: counted even if no request uses it.
  const connect: buildConnector.connector = (opts, cb) => {
    const t = performance.now();
    const localAddress = ctx.nextLocalAddress();
    base(localAddress ? { ...opts, localAddress } : opts, (err, socket) => {
      if (err || !socket) {
        cb(err ?? new Error('connect failed'), null);
        return;
      }
      stats.opened((performance.now() - t) * 1000);
      socket.once('close', () => stats.closed());
      cb(null, socket);
    });
  };

  // New or reused, per request, from undici's own diagnostics channel.
  const sendHeaders = channel('undici:client:sendHeaders');
  const onSendHeaders = (msg: unknown) => {
    const socket = (msg as { socket: Socket & { [kUsed]?: boolean } }).socket;
    if (socket[kUsed]) stats.c.reusedRequests++;
    else socket[kUsed] = true;
  };
  sendHeaders.subscribe(onSendHeaders);

  const openModel = options.rate !== null;
  const consume = options.consumeBody;
  const dispatchOpts: Dispatcher.DispatchOptions = { origin, path, method: 'GET' };
  let clients: Client[] = [];
  let pool: Pool | null = null;
  if (!consume) {
    pool = new Pool(origin, { connections: null, pipelining: 1, connect });
  } else if (openModel) {
    pool = new Pool(origin, { connections: slice.connections, pipelining: options.pipelining, connect });
  } else {
    clients = Array.from({ length: slice.connections }, () => new Client(origin, { pipelining: options.pipelining, connect }));
  }
  const held = new Set<{ destroy(): void }>();

  return {
    send(slot: number, done: Done): void {
      if (!consume) {
        pool!.request({ path, method: 'GET' }).then(
          (res) => {
            // The body is never read: undici keeps the connection busy while its stream is full.
            held.add(res.body);
            res.body.on('error', () => {});
            done(null, res.statusCode);
          },
          (err: Error) => done(err, 0),
        );
        return;
      }
      const d = pool ?? clients[slot % clients.length]!;
      d.dispatch(dispatchOpts, new BareHandler(done));
    },
    async close(): Promise<void> {
      sendHeaders.unsubscribe(onSendHeaders);
      for (const b of held) b.destroy();
      await Promise.all([...clients.map((c) => c.destroy()), pool?.destroy()]);
    },
  };
}

/** The leanest handler undici accepts: the status, the body discarded as it streams by. */
class BareHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private done: Done | null;
  constructor(done: Done) {
    this.done = done;
  }
  onConnect(): void {}
  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    const d = this.done;
    this.done = null;
    d?.(null, this.status);
  }
  onError(err: Error): void {
    const d = this.done;
    this.done = null;
    d?.(err, 0);
  }
}
