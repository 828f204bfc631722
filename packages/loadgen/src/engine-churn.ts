import { type Socket, connect } from 'node:net';
import type { Done, Engine, EngineContext } from './engine.js';
import { targetParts } from './engine.js';
import type { WorkerStats } from './worker-stats.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length:');
/** One read buffer per worker, shared by every connection (reads are handled synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function parseDigits(buf: Buffer, at: number): number {
  let i = at;
  while (buf[i] === 32 || buf[i] === 9) i++;
  let n = 0;
  for (let c = buf[i]!; c >= 48 && c <= 57; c = buf[++i]!) n = n * 10 + (c - 48);
  return n;
}

/**
 * The lean churn engine behind `--no-keepalive` (engines undici and the default): one raw
 * `net` connection per request, a request buffer built once, a minimal response parser,
 * and the client closing the connection as soon as the response is complete. The client
 * closes first, so TIME_WAIT lands on the client's side, which is what exhausts its
 * ephemeral ports. undici with `reset: true` manages about 6k connections/s here; this
 * engine is what lets kalab keep up with hey (see docs/loadgen.md).
 */
export function createChurnEngine(ctx: EngineContext): Engine {
  const { host, port, path, hostHeader } = targetParts(ctx.url);
  const serverCloses = ctx.options.closeBy === 'server';
  // closeBy 'server': say `Connection: close` (RFC 9112 9.3) and let the server close first, as hey and Go's DisableKeepAlives do.
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: kalab\r\nAccept: */*\r\n${serverCloses ? 'Connection: close\r\n' : ''}\r\n`, 'latin1');
  const live = new Set<Socket>();
  // No per-socket timer (a timer per connection costs more than the request): a stalled
  // connection ends with the run's bound, when the engine is closed.
  const proto = { host, port, request, stats: ctx.stats, live, serverCloses };
  return {
    send(_slot: number, done: Done): void {
      new ChurnRequest(proto, ctx.nextLocalAddress(), done);
    },
    async close(): Promise<void> {
      for (const s of live) s.destroy();
      live.clear();
    },
  };
}

interface Proto {
  host: string;
  port: number;
  request: Buffer;
  stats: WorkerStats;
  live: Set<Socket>;
  serverCloses: boolean;
}

class ChurnRequest {
  private readonly socket: Socket;
  private readonly t0 = performance.now();
  private connected = false;
  private done: Done | null;
  private buf: Buffer | null = null;
  private headerEnd = -1;
  private status = 0;
  /** Body length; -1 chunked, -2 until close. */
  private length = 0;
  private received = 0;
  private tail: Buffer | null = null;
  private released = false;

  constructor(
    private readonly p: Proto,
    localAddress: string | undefined,
    done: Done,
  ) {
    this.done = done;
    // `onread` hands each read to us in one shared buffer: no Buffer and no stream 'data'
    // event per read. Bytes kept past the callback (a partial header) are copied.
    const onread = { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
        this.onData((buf as Buffer).subarray(0, n));
        return true;
      },
    };
    const s = connect(localAddress ? { host: p.host, port: p.port, localAddress, noDelay: true, onread } : { host: p.host, port: p.port, noDelay: true, onread });
    this.socket = s;
    p.live.add(s);
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
    let body: number;
    let tail: Buffer;
    if (this.headerEnd < 0) {
      const buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
      const i = buf.indexOf(CRLFCRLF);
      if (i < 0) {
        this.buf = this.buf === null ? Buffer.from(buf) : buf;
        return;
      }
      this.buf = null;
      this.headerEnd = i + 4;
      // "HTTP/1.1 200 ..."
      this.status = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
      // Fast path for the usual spelling; any other goes through the case-insensitive scan.
      const cl = buf.indexOf(CONTENT_LENGTH);
      const head = cl >= 0 && cl < i ? '' : buf.toString('latin1', 0, i).toLowerCase();
      const m = head === '' ? null : /\r\ncontent-length:[ \t]*(\d+)/.exec(head);
      if (cl >= 0 && cl < i) this.length = parseDigits(buf, cl + CONTENT_LENGTH.length);
      else if (m) this.length = Number(m[1]);
      else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) this.length = -1;
      else if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) this.length = 0;
      else this.length = -2;
      body = buf.length - this.headerEnd;
      tail = buf;
    } else {
      body = this.received + chunk.length;
      tail = this.tail === null ? chunk : Buffer.concat([this.tail, chunk]);
    }
    this.received = body;
    // A copy: `tail` may point into the shared read buffer.
    if (this.length === -1) this.tail = Buffer.from(tail.subarray(Math.max(0, tail.length - 5)));
    if ((this.length >= 0 && body >= this.length) || (this.length === -1 && tail.length >= 5 && tail.subarray(tail.length - 5).equals(CHUNKED_END))) {
      this.finish(null);
      // The client closes first: its side of the connection goes to TIME_WAIT.
      if (!this.p.serverCloses) this.release();
    }
  }

  /** The server closed its side: the end of a body delimited by close, or a broken response. */
  private onEnd(): void {
    if (this.done !== null) {
      if (this.length === -2 && this.headerEnd >= 0) this.finish(null);
      else this.finish(Object.assign(new Error('the server closed the connection before the response was complete'), { code: 'ECONNRESET' }));
    }
    this.release();
  }

  /** Closes the connection, once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.p.live.delete(this.socket);
    if (this.connected) this.p.stats.closed();
    this.socket.destroy();
  }

  /** Reports the request's outcome, once. */
  private finish(err: Error | null): void {
    const d = this.done;
    if (d === null) return;
    this.done = null;
    this.buf = null;
    if (err) d(err, 0);
    else d(null, this.status);
  }
}
