import { connect, type Socket } from 'node:net';
import { Http1ResponseParser } from '@kalab/core';
import type { Done, Engine, EngineContext } from './engine.js';
import { targetParts } from './engine.js';
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
  const { host, port, path, hostHeader } = targetParts(ctx.url);
  const serverCloses = ctx.options.closeBy === 'server';
  // closeBy 'server': say `Connection: close` (RFC 9112 9.3) and let the server close first, as hey and Go's DisableKeepAlives do.
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: kalab\r\nAccept: */*\r\n${serverCloses ? 'Connection: close\r\n' : ''}\r\n`,
    'latin1',
  );
  const live = new Set<ChurnRequest>();
  const timeoutMs = ctx.options.timeoutMs;
  // --timeout without a timer per connection (one costs more than the request): one coarse
  // scan per worker over the live requests' start times (taken anyway for the connect time).
  const watchdog = new Watchdog(timeoutMs, (now) => {
    for (const r of live) if (now - r.t0 >= timeoutMs) r.expire(timeoutMs);
  });
  const proto = { host, port, request, stats: ctx.stats, live, serverCloses };
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
  host: string;
  port: number;
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
    this.parser = new Http1ResponseParser((status) => this.onResponse(status));
    // `onread` hands each read to us in one shared buffer: no Buffer and no stream 'data'
    // event per read (the parser copies the little it keeps across reads).
    const onread = {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        this.onData((buf as Buffer).subarray(0, n));
        return true;
      },
    };
    const s = connect(
      localAddress
        ? { host: p.host, port: p.port, localAddress, noDelay: true, onread }
        : { host: p.host, port: p.port, noDelay: true, onread },
    );
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
        this.finish(
          Object.assign(new Error('the server closed the connection before the response was complete'), {
            code: 'ECONNRESET',
          }),
        );
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
