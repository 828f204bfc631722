import { type Socket, connect } from 'node:net';
import type { Done, Engine, EngineContext } from './engine.js';
import { targetParts } from './engine.js';
import type { WorkerStats } from './worker-stats.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

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
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: kalab\r\nAccept: */*\r\n\r\n`, 'latin1');
  const live = new Set<Socket>();
  const proto = { host, port, request, stats: ctx.stats, live, timeoutMs: ctx.options.connectTimeoutMs };
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
  timeoutMs: number;
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

  constructor(
    private readonly p: Proto,
    localAddress: string | undefined,
    done: Done,
  ) {
    this.done = done;
    const s = connect(localAddress ? { host: p.host, port: p.port, localAddress, noDelay: true } : { host: p.host, port: p.port, noDelay: true });
    this.socket = s;
    p.live.add(s);
    s.setTimeout(p.timeoutMs);
    s.on('connect', () => this.onConnect());
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err) => this.finish(err));
    s.on('timeout', () => s.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })));
    s.on('close', () => this.onClose());
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
        this.buf = buf;
        return;
      }
      this.buf = null;
      this.headerEnd = i + 4;
      // "HTTP/1.1 200 ..."
      this.status = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
      const head = buf.toString('latin1', 0, i).toLowerCase();
      const m = /\r\ncontent-length:[ \t]*(\d+)/.exec(head);
      if (m) this.length = Number(m[1]);
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
    if (this.length === -1) this.tail = tail.length > 5 ? tail.subarray(tail.length - 5) : tail;
    if ((this.length >= 0 && body >= this.length) || (this.length === -1 && tail.length >= 5 && tail.subarray(tail.length - 5).equals(CHUNKED_END))) {
      this.finish(null);
      // The client closes first: its side of the connection goes to TIME_WAIT.
      this.socket.destroy();
    }
  }

  private onClose(): void {
    this.p.live.delete(this.socket);
    if (this.connected) this.p.stats.closed();
    if (this.done !== null) {
      if (this.length === -2 && this.headerEnd >= 0) this.finish(null);
      else this.finish(Object.assign(new Error('the server closed the connection before the response was complete'), { code: 'ECONNRESET' }));
    }
  }

  private finish(err: Error | null): void {
    const d = this.done;
    if (d === null) return;
    this.done = null;
    this.buf = null;
    if (err) {
      this.socket.destroy();
      d(err, 0);
    } else {
      d(null, this.status);
    }
  }
}
