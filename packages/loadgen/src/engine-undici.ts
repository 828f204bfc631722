import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { peerClosedError, timedOutError } from '@kalab/core';
import type { Dispatcher } from 'undici';
import { buildConnector, Client, Pool } from 'undici';
import { readyEvent } from './dial.js';
import type { Done, Engine, EngineContext } from './engine.js';
import { http1HeaderArray } from './request-shape.js';

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
  // One URL for every Client: undici keeps the URL object it is given (a string would be
  // parsed into a URL per Client: 10,000 connections held 10,000 copies).
  const originUrl = new URL(origin);
  const shape = ctx.shape;
  const path = shape.path;
  const base = buildConnector({ timeout: options.connectTimeoutMs });
  // --timeout through undici's own parser timers (already armed for every request, with
  // its 300 s defaults): headers within timeoutMs of the request, and no body stall as long.
  // undici destroys the socket (the connect hook counts the close) and reconnects.
  const timeouts = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };

  // Every connection undici opens goes through here: counted even if no request uses it.
  const plain: buildConnector.connector = (opts, cb) => {
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
  // https://: the one dialer (TLS accounting, --ca, -k, --servername, a session cache as
  // undici's own connector keeps by default). The TCP connect is counted even if the
  // handshake then fails; the socket goes to undici once it is secure.
  const secure: buildConnector.connector = (_opts, cb) => {
    const t = performance.now();
    const socket = ctx.dial({ localAddress: ctx.nextLocalAddress() });
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('error', settle);
      if (err) {
        socket.destroy();
        cb(err, null);
      } else cb(null, socket);
    };
    const timer = setTimeout(
      () => settle(timedOutError(`connect timeout (${options.connectTimeoutMs} ms)`)),
      options.connectTimeoutMs,
    );
    socket.once('connect', () => {
      stats.opened((performance.now() - t) * 1000);
      socket.once('close', () => stats.closed());
    });
    socket.once(readyEvent(socket), () => settle(null));
    socket.on('error', settle);
  };
  const connect = url.protocol === 'https:' ? secure : plain;

  const openModel = options.rate !== null;
  const consume = options.consumeBody;
  const pooled = openModel || !consume;

  // New or reused, per request, counted only for requests that got a response. Behind a
  // Pool, from undici's own diagnostics channels: the socket is marked on first use when the
  // headers are sent, and a request sent on a marked socket counts once its response headers
  // arrive. With a Client per connection the channels are not needed (and subscribing to
  // them costs ~40% of the request rate): a request written after the Client's latest
  // 'connect' is new if it is the first one, reused otherwise.
  const sendHeaders = channel('undici:client:sendHeaders');
  const responseHeaders = channel('undici:request:headers');
  const onReusedSocket = new WeakSet<object>();
  const onSendHeaders = (msg: unknown) => {
    const { socket, request } = msg as { socket: Socket & { [kUsed]?: boolean }; request: object };
    if (socket[kUsed]) onReusedSocket.add(request);
    else socket[kUsed] = true;
  };
  const onResponseHeaders = (msg: unknown) => {
    if (onReusedSocket.delete((msg as { request: object }).request)) stats.c.reusedRequests++;
  };
  if (pooled) {
    sendHeaders.subscribe(onSendHeaders);
    responseHeaders.subscribe(onResponseHeaders);
  }
  const headers = http1HeaderArray(shape);
  const body = shape.body;
  const dispatchOpts: Dispatcher.DispatchOptions = { origin, path, method: shape.method, headers, body };
  let clients: Client[] = [];
  let states: ClientState[] = [];
  const handlers: BareHandler[] = [];
  let pool: Pool | null = null;
  if (!consume) {
    pool = new Pool(originUrl, { connections: null, pipelining: 1, connect, ...timeouts });
  } else if (openModel) {
    pool = new Pool(originUrl, {
      connections: slice.connections,
      pipelining: options.pipelining,
      connect,
      ...timeouts,
    });
  } else {
    clients = Array.from(
      { length: slice.connections },
      () => new Client(originUrl, { pipelining: options.pipelining, connect, ...timeouts }),
    );
    states = clients.map((c) => {
      const st: ClientState = { stats, generation: 0, used: -1 };
      c.on('connect', () => {
        st.generation++;
      });
      return st;
    });
  }
  const held = new Set<{ destroy(): void }>();

  return {
    send(slot: number, done: Done): void {
      if (!consume) {
        pool!.request({ path, method: shape.method as Dispatcher.HttpMethod, headers, body }).then(
          (res) => {
            // The body is never read: undici keeps the connection busy while its stream is full.
            held.add(res.body);
            res.body.on('error', () => {});
            done(null, res.statusCode);
          },
          (err: Error) => done(undiciFailure(err), 0),
        );
        return;
      }
      if (pool) pool.dispatch(dispatchOpts, new BareHandler(done, null));
      else {
        // Closed model: a slot has one request in flight at a time, so its handler is reused.
        const i = slot % clients.length;
        let h = handlers[slot];
        if (h === undefined || h.busy) {
          h = new BareHandler(done, states[i]!);
          handlers[slot] = h;
        } else h.reuse(done);
        clients[i]!.dispatch(dispatchOpts, h);
      }
    },
    async close(): Promise<void> {
      if (pooled) {
        sendHeaders.unsubscribe(onSendHeaders);
        responseHeaders.unsubscribe(onResponseHeaders);
      }
      for (const b of held) b.destroy();
      await Promise.all([...clients.map((c) => c.destroy()), pool?.destroy()]);
    },
  };
}

/** Per Client: which socket generation has carried a request already. */
interface ClientState {
  stats: EngineContext['stats'];
  generation: number;
  used: number;
}

/** The leanest handler undici accepts: the status, the body discarded as it streams by. */
class BareHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private reused = false;
  private done: Done | null;
  private readonly client: ClientState | null;
  constructor(done: Done, client: ClientState | null) {
    this.done = done;
    this.client = client;
  }
  /** True until the request this handler serves has ended. */
  get busy(): boolean {
    return this.done !== null;
  }
  reuse(done: Done): void {
    this.done = done;
    this.status = 0;
    this.reused = false;
  }
  /** Called as the request is written to a connected socket. */
  onConnect(): void {
    const c = this.client;
    if (c === null) return;
    this.reused = c.used === c.generation;
    c.used = c.generation;
  }
  /** The response arrived: only now does a request on a reused connection count as reused. */
  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    if (this.reused) this.client!.stats.c.reusedRequests++;
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
    d?.(undiciFailure(err), 0);
  }
}

/**
 * undici fails a request whose connection got the server's FIN first with UND_ERR_SOCKET
 * "other side closed" (raised on its socket's 'end'), and one whose connection got a RST with
 * the socket's own ECONNRESET: the first is EPEERCLOSED, as in every other engine.
 */
function undiciFailure(err: Error): Error {
  if ((err as { code?: unknown }).code === 'UND_ERR_SOCKET' && err.message === 'other side closed')
    return peerClosedError('the server closed the connection (FIN) before the response', err);
  return err;
}
