import type { Socket } from 'node:net';
import { Http1ResponseParser, peerClosedError } from '@kalab/core';
import type { Dialer } from './dial.js';
import type { Done, Engine, EngineContext } from './engine.js';
import { rawRequest } from './request-shape.js';
import { timeoutError, Watchdog } from './watchdog.js';
import type { WorkerStats } from './worker-stats.js';

/** One read buffer per worker, shared by every connection (reads are handled synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The lean churn engine behind `--no-keepalive` (engines undici and the default): one raw
 * `net` connection per request, a request buffer built once, the strict response parser
 * of @kalab/core (as the net engine), and the client closing the connection as soon as
 * the response is complete. The client closes first, so TIME_WAIT lands on the client's side, which is what exhausts its
 * ephemeral ports. undici with `reset: true` manages about 6k connections/s here; this
 * engine is what lets kalab keep up with hey (see docs/loadgen.md).
 */
export function createChurnEngine(ctx: EngineContext): Engine {
  const serverCloses = ctx.options.closeBy === 'server';
  // closeBy 'server': say `Connection: close` (RFC 9112 9.3) and let the server close first, as hey and Go's DisableKeepAlives do.
  const request = rawRequest(ctx.shape, serverCloses ? [['Connection', 'close']] : []);
  const live = new Set<ChurnRequest>();
  const timeoutMs = ctx.options.timeoutMs;
  // --timeout without a timer per connection (one costs more than the request): one coarse
  // scan per worker over the live requests' start times (taken anyway for the connect time).
  const watchdog = new Watchdog(timeoutMs, (now) => {
    for (const r of live) if (now - r.t0 >= timeoutMs) r.expire(timeoutMs);
  });
  const proto = { dial: ctx.dial, head: ctx.shape.head, request, stats: ctx.stats, live, serverCloses };
  return {
    send(_slot: number, done: Done): void {
      new ChurnRequest(proto, ctx.nextLocalAddress(), done);
    },
    async close(): Promise<void> {
      watchdog.stop();
      for (const r of live) r.socket.destroy();
      live.clear();
    },
  };
}

interface Proto {
  dial: Dialer;
  /** HEAD requests: responses have no body. */
  head: boolean;
  request: Buffer;
  stats: WorkerStats;
  live: Set<ChurnRequest>;
  serverCloses: boolean;
}

class ChurnRequest {
  readonly socket: Socket;
  readonly t0 = performance.now();
  private connected = false;
  private done: Done | null;
  private released = false;
  private readonly parser: Http1ResponseParser;

  constructor(
    private readonly p: Proto,
    localAddress: string | undefined,
    done: Done,
  ) {
    this.done = done;
    this.parser = new Http1ResponseParser((status) => this.onResponse(status), { head: p.head });
    // `onread` hands each read to us in one shared buffer: no Buffer and no stream 'data'
    // event per read (the parser copies the little it keeps across reads).
    const onread = {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        this.onData((buf as Buffer).subarray(0, n));
        return true;
      },
    };
    const s = p.dial({ localAddress, onread });
    this.socket = s;
    p.live.add(this);
    s.on('connect', () => this.onConnect());
    s.on('error', (err) => {
      this.finish(err);
      this.release();
    });
    s.on('end', () => this.onEnd());
  }

  private onConnect(): void {
    this.connected = true;
    this.p.stats.opened((performance.now() - this.t0) * 1000);
    // Over TLS the write waits inside the TLS socket until the handshake is done.
    this.socket.write(this.p.request);
  }

  private onData(chunk: Buffer): void {
    if (this.done === null) return;
    try {
      this.parser.execute(chunk);
    } catch (err) {
      this.finish(err as Error);
      this.release();
    }
  }

  private onResponse(status: number): void {
    this.finish(null, status);
    // The client closes first: its side of the connection goes to TIME_WAIT.
    if (!this.p.serverCloses) this.release();
  }

  /** The server closed its side: the end of a body delimited by close, or a broken response. */
  private onEnd(): void {
    if (this.done !== null) {
      // Completes a body delimited by the close (through onResponse).
      this.parser.end();
      if (this.done !== null)
        this.finish(peerClosedError('the server closed the connection (FIN) before the response was complete'));
    }
    this.release();
  }

  /** --timeout: no complete response in time. Fails as ETIMEDOUT and closes the connection. */
  expire(timeoutMs: number): void {
    this.finish(timeoutError(timeoutMs));
    this.release();
  }

  /** Closes the connection, once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.p.live.delete(this);
    if (this.connected) this.p.stats.closed();
    this.socket.destroy();
  }

  /** Reports the request's outcome, once. */
  private finish(err: Error | null, status = 0): void {
    const d = this.done;
    if (d === null) return;
    this.done = null;
    if (err) d(err, 0);
    else d(null, status);
  }
}
