import { ProtocolError } from '@kalab/core';

/** One HTTP/1.x response as the doctor sees it on the wire. */
export interface WireResponse {
  statusCode: number;
  /** `1.1` or `1.0`, from the status line. */
  httpVersion: string;
  /** Header names lower-cased, in arrival order (repeated headers stay separate). */
  headers: Array<[string, string]>;
  bodyBytes: number;
  /**
   * True when the connection cannot carry another response after this one:
   * `Connection: close`, HTTP/1.0 without `Connection: keep-alive`, or a body
   * delimited by the end of the connection.
   */
  closeAfter: boolean;
  /** performance.now() when the last byte of the response arrived. */
  endedAt: number;
}

/** Largest status line + headers the doctor accepts (Node's own default is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

type BodyMode =
  | { kind: 'none' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunked' }
  | { kind: 'until-close' };

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'until-close' | 'done';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Incremental HTTP/1.x response parser for a client that sends only GETs (no HEAD):
 * Content-Length, chunked (with trailers), close-delimited bodies, 1xx interim
 * responses, 204/304 without bodies, and several pipelined responses in one chunk.
 * Malformed input throws ProtocolError; the caller drops that connection.
 */
export class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = 'head';
  private current: Omit<WireResponse, 'endedAt'> | undefined;
  private body: BodyMode = { kind: 'none' };
  private chunkRemaining = 0;

  constructor(private readonly onResponse: (res: WireResponse) => void) {}

  /** True while a response has started arriving but is not complete. */
  get inResponse(): boolean {
    if (this.state === 'done') return false;
    return this.state !== 'head' || this.buf.length > 0;
  }

  push(chunk: Buffer): void {
    if (this.state === 'done') return; // bytes after a close-delimited body cannot belong to anything
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.drain();
  }

  /** The peer finished sending (FIN): completes a close-delimited body. */
  end(): void {
    if (this.state === 'until-close') this.finish();
  }

  private drain(): void {
    for (;;) {
      switch (this.state) {
        case 'head': {
          const at = this.buf.indexOf(HEAD_END);
          if (at < 0) {
            if (this.buf.length > MAX_HEAD_BYTES)
              throw new ProtocolError(`response head is larger than ${MAX_HEAD_BYTES} bytes`);
            return;
          }
          const head = this.buf.subarray(0, at).toString('latin1');
          this.buf = this.buf.subarray(at + HEAD_END.length);
          this.startResponse(head);
          break;
        }
        case 'length': {
          const mode = this.body as { kind: 'length'; remaining: number };
          const take = Math.min(mode.remaining, this.buf.length);
          mode.remaining -= take;
          this.current!.bodyBytes += take;
          this.buf = this.buf.subarray(take);
          if (mode.remaining > 0) return;
          this.finish();
          break;
        }
        case 'chunk-size': {
          const at = this.buf.indexOf(CRLF);
          if (at < 0) {
            if (this.buf.length > 1024) throw new ProtocolError('chunk size line is too long');
            return;
          }
          const line = this.buf.subarray(0, at).toString('latin1');
          this.buf = this.buf.subarray(at + 2);
          const hex = line.split(';')[0]!.trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ProtocolError(`bad chunk size "${line.slice(0, 40)}"`);
          this.chunkRemaining = Number.parseInt(hex, 16);
          this.state = this.chunkRemaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.chunkRemaining, this.buf.length);
          this.chunkRemaining -= take;
          this.current!.bodyBytes += take;
          this.buf = this.buf.subarray(take);
          if (this.chunkRemaining > 0) return;
          this.state = 'chunk-data-end';
          break;
        }
        case 'chunk-data-end': {
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a)
            throw new ProtocolError('chunk data is not followed by CRLF');
          this.buf = this.buf.subarray(2);
          this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer fields end with an empty line; without trailers that is the CRLF right away.
          const at = this.buf.indexOf(CRLF);
          if (at < 0) {
            if (this.buf.length > MAX_HEAD_BYTES) throw new ProtocolError('trailers are too large');
            return;
          }
          this.buf = this.buf.subarray(at + 2);
          if (at === 0) this.finish();
          break;
        }
        case 'until-close': {
          this.current!.bodyBytes += this.buf.length;
          this.buf = Buffer.alloc(0);
          return;
        }
        case 'done':
          return;
      }
    }
  }

  private startResponse(head: string): void {
    const lines = head.split('\r\n');
    const status = /^HTTP\/(\d\.\d) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!status) throw new ProtocolError(`not an HTTP/1.x status line: "${(lines[0] ?? '').slice(0, 60)}"`);
    const httpVersion = status[1]!;
    const statusCode = Number(status[2]);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ProtocolError(`bad header line "${line.slice(0, 60)}"`);
      headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
    if (statusCode >= 100 && statusCode < 200) return; // interim response (103 Early Hints): the final one follows

    const tokens = connectionTokens(headers);
    const keepAliveByDefault = httpVersion !== '1.0';
    let closeAfter = tokens.has('close') || (!keepAliveByDefault && !tokens.has('keep-alive'));
    const te = headerValues(headers, 'transfer-encoding').join(',').toLowerCase();
    const cl = headerValues(headers, 'content-length');
    if (statusCode === 204 || statusCode === 304) {
      this.body = { kind: 'none' };
    } else if (te.trim() !== '') {
      const codings = te
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      if (codings[codings.length - 1] === 'chunked') this.body = { kind: 'chunked' };
      else this.body = { kind: 'until-close' };
    } else if (cl.length > 0) {
      const values = new Set(cl.flatMap((v) => v.split(',').map((x) => x.trim())));
      const [only] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(only!))
        throw new ProtocolError(`bad Content-Length "${cl.join(', ')}"`);
      this.body = { kind: 'length', remaining: Number(only) };
    } else {
      this.body = { kind: 'until-close' };
    }
    if (this.body.kind === 'until-close') closeAfter = true;
    this.current = { statusCode, httpVersion, headers, bodyBytes: 0, closeAfter };
    switch (this.body.kind) {
      case 'none':
        this.finish();
        break;
      case 'length':
        if (this.body.remaining === 0) this.finish();
        else this.state = 'length';
        break;
      case 'chunked':
        this.state = 'chunk-size';
        break;
      case 'until-close':
        this.state = 'until-close';
        break;
    }
  }

  private finish(): void {
    const res: WireResponse = { ...this.current!, endedAt: performance.now() };
    this.current = undefined;
    // After a response that ends the connection nothing more can be parsed.
    this.state = res.closeAfter ? 'done' : 'head';
    if (res.closeAfter) this.buf = Buffer.alloc(0);
    this.onResponse(res);
  }
}

export function headerValues(headers: ReadonlyArray<[string, string]>, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) if (k === name) out.push(v);
  return out;
}

/** The lower-cased tokens of every `Connection` header. */
export function connectionTokens(headers: ReadonlyArray<[string, string]>): Set<string> {
  const tokens = new Set<string>();
  for (const v of headerValues(headers, 'connection')) {
    for (const t of v.split(',')) {
      const token = t.trim().toLowerCase();
      if (token) tokens.add(token);
    }
  }
  return tokens;
}
