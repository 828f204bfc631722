const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length:');
const CONNECTION = Buffer.from('\r\nConnection:');
const ONNECTION = Buffer.from('onnection:');
const RANSFER = Buffer.from('ransfer-');

/** What the parser reports per response: the status, and whether the connection may carry another request. */
export type OnResponse = (status: number, keepAlive: boolean) => void;

enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
}

/**
 * A minimal HTTP/1.1 response parser for the lean engines: the status line, the
 * `Content-Length`, `Transfer-Encoding: chunked` and `Connection` headers, and the body's
 * framing, nothing else (bodies are counted, never kept). Handles responses split across
 * reads and several responses in one read (pipelining). Reads may live in a shared buffer:
 * the parser copies what it keeps across calls.
 */
export class Http1ResponseParser {
  private state = State.Head;
  private head: Buffer | null = null;
  private remaining = 0;
  private status = 0;
  private keepAlive = true;
  private line = '';

  constructor(private readonly onResponse: OnResponse) {}

  reset(): void {
    this.state = State.Head;
    this.head = null;
    this.line = '';
  }

  /** True while a response has started but not ended (its end may be the connection's close). */
  get midResponse(): boolean {
    return this.state !== State.Head || this.head !== null;
  }

  /** The connection ended: completes a body delimited by close. Returns false if a response was cut short. */
  end(): boolean {
    if (this.state === State.UntilClose) {
      this.state = State.Head;
      this.onResponse(this.status, false);
      return true;
    }
    return !this.midResponse;
  }

  /** Throws on a response it cannot frame (the caller closes the connection). */
  execute(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case State.Head: {
          let buf = chunk;
          let from = i;
          if (this.head !== null) {
            buf = Buffer.concat([this.head, chunk.subarray(i)]);
            from = 0;
          }
          const end = buf.indexOf(CRLFCRLF, from);
          if (end < 0) {
            this.head = Buffer.from(buf.subarray(from));
            if (this.head.length > 64 * 1024) throw new ParseFailure('response head over 64 KiB');
            return;
          }
          this.parseHead(buf, from, end);
          const consumed = end + 4 - from;
          // Bytes of the new chunk used by this head.
          const prev = this.head === null ? 0 : this.head.length;
          this.head = null;
          i += consumed - prev;
          if ((this.state as State) === State.Length && this.remaining === 0) this.complete();
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.complete();
          break;
        }
        case State.ChunkSize:
        case State.Trailers: {
          const lf = chunk.indexOf(LF, i);
          const stop = lf < 0 ? n : lf;
          this.line += chunk.toString('latin1', i, stop);
          if (this.line.length > 4096) throw new ParseFailure('chunk line over 4 KiB');
          if (lf < 0) return;
          i = lf + 1;
          const line = this.line.charCodeAt(this.line.length - 1) === CR ? this.line.slice(0, -1) : this.line;
          this.line = '';
          if (this.state === State.Trailers) {
            if (line === '') this.complete();
            break;
          }
          const size = Number.parseInt(line, 16);
          if (!Number.isFinite(size) || size < 0) throw new ParseFailure(`bad chunk size "${line.slice(0, 20)}"`);
          if (size === 0) this.state = State.Trailers;
          else {
            this.remaining = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) {
            this.remaining = 2;
            this.state = State.ChunkDataEnd;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          return;
      }
    }
  }

  private parseHead(buf: Buffer, from: number, end: number): void {
    // "HTTP/1.1 200 ..."
    this.status = (buf[from + 9]! - 48) * 100 + (buf[from + 10]! - 48) * 10 + (buf[from + 11]! - 48);
    const minor = buf[from + 7]! - 48;
    if (this.status >= 200 && this.status !== 204 && this.status !== 304 && this.fastHead(buf, from, end, minor))
      return;
    const head = buf.toString('latin1', from, end).toLowerCase();
    const conn = /\r\nconnection:[ \t]*([^\r]*)/.exec(head);
    this.keepAlive = conn ? !/\bclose\b/.test(conn[1]!) : minor >= 1;
    const cl = /\r\ncontent-length:[ \t]*(\d+)/.exec(head);
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
      this.state = State.Length;
      this.remaining = 0;
    } else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
      this.state = State.ChunkSize;
      this.line = '';
    } else if (cl) {
      this.state = State.Length;
      this.remaining = Number(cl[1]);
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
  }

  /**
   * The usual spelling (`Content-Length:`, `Connection:`, no `Transfer-Encoding`) without
   * building a string: Buffer.indexOf is native. Anything else takes the general path.
   */
  private fastHead(buf: Buffer, from: number, end: number, minor: number): boolean {
    const cl = buf.indexOf(CONTENT_LENGTH, from);
    if (cl < 0 || cl > end) return false;
    const te = buf.indexOf(RANSFER, from);
    if (te >= 0 && te < end) return false;
    let keepAlive = minor >= 1;
    const any = buf.indexOf(ONNECTION, from);
    if (any >= 0 && any < end) {
      const c = buf.indexOf(CONNECTION, from);
      if (c < 0 || c + 3 !== any) return false;
      let v = c + CONNECTION.length;
      while (buf[v] === 32 || buf[v] === 9) v++;
      const ch = buf[v]! | 0x20;
      // "close" (possibly in a list: rare; the general path handles lists).
      if (ch === 99 /* c */) keepAlive = false;
      else if (ch !== 107 /* k */) return false;
      else keepAlive = true;
    }
    let i = cl + CONTENT_LENGTH.length;
    while (buf[i] === 32 || buf[i] === 9) i++;
    let len = 0;
    let digits = 0;
    for (let ch = buf[i]!; ch >= 48 && ch <= 57; ch = buf[++i]!) {
      len = len * 10 + (ch - 48);
      digits++;
    }
    if (digits === 0) return false;
    this.keepAlive = keepAlive;
    this.state = State.Length;
    this.remaining = len;
    return true;
  }

  private complete(): void {
    this.state = State.Head;
    this.onResponse(this.status, this.keepAlive);
  }
}

export class ParseFailure extends Error {
  readonly code = 'HPE_INVALID_RESPONSE';
}
