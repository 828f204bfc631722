import type { Socket } from 'node:net';
import { Http1ResponseParser, peerClosedError } from '@kalab/core';
import { DEFAULTS } from './defaults.js';
import type { Dialer } from './dial.js';
import type { Done, Engine, EngineContext } from './engine.js';
import { rawRequest } from './request-shape.js';
import { ProgressMark, timeoutError, Watchdog } from './watchdog.js';
import type { WorkerStats } from './worker-stats.js';

/** One read buffer per worker, shared by every connection (reads are handled synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The lean keep-alive engine (`--engine net`): `-c` raw `net` connections per run, a
 * request buffer built once, `-p` requests in flight on each, and the strict HTTP/1.x
 * response parser of @kalab/core (status, framing, Connection; every header byte checked,
 * no strings made). No request objects: what wrk does, in Node. A connection
 * the server closes (or announces `Connection: close` on) is replaced on the next request.
 *
 * `--no-consume-body`: a request ends when its response's head has arrived and the body is
 * never read (the socket stops reading), so that connection stays busy and the slot's next
 * request opens a new one: the article's "10 sequential requests, 10 connections". A
 * response without a body (HEAD, 204, 304, `Content-Length: 0`) leaves nothing unread and its
 * connection is reused. Held connections are bounded per worker (the oldest is closed
 * beyond DEFAULTS.heldConnections) and all closed at the end.
 */
export function createNetEngine(ctx: EngineContext): Engine {
  const request = rawRequest(ctx.shape);
  const head = ctx.shape.head;
  const held = ctx.options.consumeBody ? null : new HeldSockets(DEFAULTS.heldConnections);
  // -p N: the requests that one read's responses set off leave in one writev, not N writes.
  const batch = ctx.options.pipelining > 1 && ctx.options.consumeBody;
  const conns = Array.from(
    { length: ctx.slice.connections },
    () => new LeanConnection(ctx.dial, head, request, ctx.stats, ctx.nextLocalAddress, held, batch),
  );
  let rr = 0;
  // --timeout: one coarse scan per worker; a connection with no response for the timeout is destroyed.
  const timeoutMs = ctx.options.timeoutMs;
  const watchdog = new Watchdog(timeoutMs, (now) => {
    for (const c of conns) c.checkTimeout(now, timeoutMs);
  });
  return {
    send(slot: number, done: Done): void {
      if (slot >= 0) {
        conns[slot % conns.length]!.send(done);
        return;
      }
      // Open model: the connection with the fewest requests in flight, round-robin among equals.
      let best = conns[rr]!;
      for (let k = 1; k < conns.length && best.inFlight > 0; k++) {
        const c = conns[(rr + k) % conns.length]!;
        if (c.inFlight < best.inFlight) best = c;
      }
      rr = (rr + 1) % conns.length;
      best.send(done);
    },
    async close(): Promise<void> {
      watchdog.stop();
      const closing: Array<Promise<void>> = [];
      for (const c of conns) c.destroy(closing);
      held?.destroyAll(closing);
      // Every 'close' (which counts the connection closed) before the worker's final envelope.
      await Promise.all(closing);
    },
  };
}

/** Destroys a socket; resolves on its 'close' (at once for one already closed). */
function destroyed(s: Socket): Promise<void> {
  if (s.closed) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('close', () => resolve());
    s.destroy();
  });
}

/** --no-consume-body: connections holding an unread response, oldest first, at most `max` per worker. */
class HeldSockets {
  private readonly sockets = new Set<Socket>();
  constructor(private readonly max: number) {}

  add(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    if (this.sockets.size > this.max) {
      const oldest = this.sockets.values().next().value as Socket;
      this.sockets.delete(oldest);
      oldest.destroy();
    }
  }

  destroyAll(closing: Array<Promise<void>>): void {
    for (const s of this.sockets) closing.push(destroyed(s));
    this.sockets.clear();
  }
}

class LeanConnection {
  private socket: Socket | null = null;
  /** Callbacks of the requests written on the current socket, oldest first. */
  private pending: Done[] = [];
  private head = 0;
  /** Responses received on the current socket: the k-th one (k > 0) rode a reused connection. */
  private responsesOnSocket = 0;
  /** The server said Connection: close (or the body ran to the close): no more requests on this socket. */
  private spent = false;
  private parser: Http1ResponseParser | null = null;
  /** Requests ended on this connection, ever (responses and failures): the watchdog's progress mark. */
  private settled = 0;
  private readonly mark = new ProgressMark();

  constructor(
    private readonly dial: Dialer,
    /** HEAD requests: responses have no body. */
    private readonly isHead: boolean,
    private readonly request: Buffer,
    private readonly stats: WorkerStats,
    private readonly nextLocalAddress: () => string | undefined,
    /** --no-consume-body: where a connection goes once its response's head arrived (null: bodies are read). */
    private readonly held: HeldSockets | null,
    /** Cork the socket while a read is parsed (pipelining): the requests its responses set off go out together. */
    private readonly batch: boolean,
  ) {}

  get inFlight(): number {
    return this.pending.length - this.head;
  }

  send(done: Done): void {
    if (this.socket === null || this.spent) this.open();
    this.pending.push(done);
    this.socket!.write(this.request);
  }

  destroy(closing: Array<Promise<void>>): void {
    const s = this.socket;
    this.socket = null;
    if (s !== null) closing.push(destroyed(s));
  }

  /**
   * --timeout: no response for `timeoutMs` with requests in flight. Every request on the
   * socket fails with ETIMEDOUT (those behind the oldest could only be answered after it)
   * and the socket is destroyed ('close' counts it); the next request opens a new one.
   */
  checkTimeout(now: number, timeoutMs: number): void {
    if (!this.mark.expired(now, this.inFlight, this.settled, timeoutMs)) return;
    const s = this.socket;
    this.socket = null;
    this.failAll(timeoutError(timeoutMs));
    s?.destroy();
  }

  private open(): void {
    // A spent socket keeps its own requests; they finish (or fail) on it.
    if (this.socket !== null) this.detach(this.socket);
    const t0 = performance.now();
    const localAddress = this.nextLocalAddress();
    // One parser per socket: responses of a replaced socket can never reach the new one's requests.
    const parser = new Http1ResponseParser(
      (status, keepAlive) => {
        if (this.socket === s) this.onResponse(status, keepAlive);
      },
      this.held === null
        ? { head: this.isHead }
        : {
            head: this.isHead,
            onHead: (status, bodyFollows) => {
              if (bodyFollows && this.socket === s) this.hold(s, status);
            },
          },
    );
    const onread = {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        if (this.socket === s) this.onData(s, parser, buf, n);
        return true;
      },
    };
    const s = this.dial({ localAddress, onread });
    let connected = false;
    s.once('connect', () => {
      connected = true;
      this.stats.opened((performance.now() - t0) * 1000);
    });
    s.on('error', (err) => this.onGone(s, err));
    s.on('end', () => this.onGone(s, null));
    s.once('close', () => {
      if (connected) this.stats.closed();
      this.onGone(s, null);
    });
    this.socket = s;
    this.spent = false;
    this.responsesOnSocket = 0;
    this.pending = [];
    this.head = 0;
    this.parser = parser;
  }

  /** Leaves an old socket to close by itself; requests still on it are failed (its server said it closes). */
  private detach(s: Socket): void {
    this.failAll(peerClosedError('the server announced Connection: close with requests in flight'));
    s.destroy();
  }

  private onData(s: Socket, parser: Http1ResponseParser, buf: Uint8Array, n: number): void {
    if (this.batch) s.cork();
    try {
      parser.execute(buf, n);
      if (this.batch) s.uncork();
    } catch (err) {
      // A response callback may have moved this connection to a new socket already (its requests are not this one's).
      if (this.socket === s) {
        this.socket = null;
        this.failAll(err as Error);
      }
      s.destroy();
    }
  }

  /**
   * --no-consume-body: the response's head arrived and its body will never be read. The
   * socket stops reading (the body stays in the kernel's buffers, and the server's) and is
   * held open; the request ends now, and this slot's next request opens a new connection.
   */
  private hold(s: Socket, status: number): void {
    this.socket = null;
    s.pause();
    this.held!.add(s);
    this.onResponse(status, false);
  }

  private onResponse(status: number, keepAlive: boolean): void {
    const done = this.pending[this.head];
    if (done === undefined) return;
    this.pending[this.head++] = undefined as unknown as Done;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    if (!keepAlive) this.spent = true;
    this.settled++;
    // Reuse is counted on the response, so a request that failed on a reused socket is not counted.
    if (this.responsesOnSocket++ > 0) this.stats.c.reusedRequests++;
    done(null, status);
  }

  private onGone(s: Socket, err: Error | null): void {
    if (this.socket !== s) return;
    if (err === null && this.parser !== null && this.parser.end() && this.inFlight === 0) {
      this.socket = null;
      s.destroy();
      return;
    }
    this.socket = null;
    // No error: the server's FIN ('end', then 'close'); a RST arrives as an ECONNRESET 'error'.
    this.failAll(err ?? peerClosedError('the server closed the connection (FIN) with requests in flight'));
    s.destroy();
  }

  private failAll(err: Error): void {
    const list = this.pending;
    const from = this.head;
    this.pending = [];
    this.head = 0;
    this.settled += list.length - from;
    for (let i = from; i < list.length; i++) list[i]!(err, 0);
  }
}
