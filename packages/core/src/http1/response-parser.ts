import { HttpParseError } from '../errors.js';

/**
 * Stable `reason` codes of the HttpParseError this parser throws (docs/errors.md).
 * Callers match on them; the message says what was seen.
 */
export const HttpParseReasons = {
  /** Not `HTTP/1.0` or `HTTP/1.1`, a status code that is not 3 digits, or a bad line ending on the status line. */
  BAD_STATUS_LINE: 'BAD_STATUS_LINE',
  /** A header (or trailer) line without a colon, with a space or another non-token byte in its name, a control byte in its value, a folded line, or a bad line ending. */
  BAD_HEADER: 'BAD_HEADER',
  /** A Content-Length that is empty, not digits, or larger than 2^53 - 1. */
  BAD_CONTENT_LENGTH: 'BAD_CONTENT_LENGTH',
  /** More than one Content-Length header (the framing would be ambiguous; llhttp refuses them too). */
  CONFLICTING_CONTENT_LENGTH: 'CONFLICTING_CONTENT_LENGTH',
  /** Both Transfer-Encoding and Content-Length (RFC 9112 6.3: a request-smuggling vector). */
  TRANSFER_ENCODING_WITH_CONTENT_LENGTH: 'TRANSFER_ENCODING_WITH_CONTENT_LENGTH',
  /** The status line and headers (or the trailers) are larger than `maxHeadBytes`. */
  HEAD_TOO_LARGE: 'HEAD_TOO_LARGE',
  /** A chunk-size line that is not hex digits (with an optional extension), too large, or badly ended. */
  BAD_CHUNK_SIZE: 'BAD_CHUNK_SIZE',
  /** Chunk data not followed by CRLF. */
  BAD_CHUNK_END: 'BAD_CHUNK_END',
} as const;

export type HttpParseReason = (typeof HttpParseReasons)[keyof typeof HttpParseReasons];

/** Called once per final response (1xx interim responses are skipped), when its last byte has arrived. */
export type OnHttp1Response = (status: number, keepAlive: boolean) => void;

export interface Http1ResponseParserOptions {
  /** Every request on this connection is a HEAD: responses have no body whatever their headers say. */
  head?: boolean;
  /** Keep the headers of each final response (`parser.headers`); off by default (it allocates strings). */
  headers?: boolean;
  /** Largest status line + headers, and largest trailer section, in bytes (default 64 KiB). */
  maxHeadBytes?: number;
  /** Called with the status of each 1xx interim response (100 Continue, 103 Early Hints), which is otherwise skipped. */
  onInformation?: (status: number) => void;
  /**
   * Called when a final response's head has been parsed, before its body: `bodyFollows` is
   * false when the response is already complete (HEAD, 204, 304, `Content-Length: 0`; the
   * `onResponse` call follows at once). A caller that never reads bodies ends its request here.
   */
  onHead?: (status: number, bodyFollows: boolean) => void;
}

/** Largest status line + headers accepted by default (Node's own limit is 16 KiB; some CDNs send more). */
export const HTTP1_MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size line (size and extensions). */
const MAX_CHUNK_LINE = 4096;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const STATUS_PREFIX = [72, 84, 84, 80, 47, 49, 46]; // "HTTP/1."

// Parser states. Plain numbers (not an enum object) so the hot loop compares small integers.
const S_STATUS_PREFIX = 0;
const S_STATUS_MINOR = 1;
const S_STATUS_SP = 2;
const S_STATUS_CODE = 3;
const S_STATUS_AFTER_CODE = 4;
const S_REASON = 5;
const S_LINE_LF = 6;
const S_FIELD_START = 7;
const S_HEAD_END_LF = 8;
const S_NAME = 9;
const S_VALUE = 10;
const S_VALUE_CR = 11;
const S_BODY_LENGTH = 12;
const S_CHUNK_SIZE = 13;
const S_CHUNK_EXT = 14;
const S_CHUNK_SIZE_LF = 15;
const S_CHUNK_DATA = 16;
const S_CHUNK_DATA_CR = 17;
const S_CHUNK_DATA_LF = 18;
const S_UNTIL_CLOSE = 19;
const S_CLOSED = 20;
const S_UPGRADED = 21;

// Which header a field name is (the only ones that change the framing or the connection).
const H_OTHER = 0;
const H_CONTENT_LENGTH = 1;
const H_TRANSFER_ENCODING = 2;
const H_CONNECTION = 3;
const H_TRAILER = 4;

/** RFC 9110 tchar: ALPHA DIGIT ! # $ % & ' * + - . ^ _ ` | ~ */
const TCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  TCHAR[c] = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]$/.test(ch) ? 1 : 0;
}
/** field-vchar / obs-text / SP / HTAB: what a header value may hold (CR ends it). */
const VCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VCHAR[c] = c === HTAB || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
/** Hex digit values, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

const NAME_CONTENT_LENGTH = bytes('content-length');
const NAME_TRANSFER_ENCODING = bytes('transfer-encoding');
const NAME_CONNECTION = bytes('connection');
const TOKEN_CHUNKED = bytes('chunked');
const TOKEN_CLOSE = bytes('close');
const TOKEN_KEEP_ALIVE = bytes('keep-alive');
/** Longest name or token compared against the ones above. */
const SCRATCH = 17;

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * One strict, incremental HTTP/1.x response parser for every raw-socket client of the lab
 * (the `net` and churn engines, the doctor's probe). It reads the status line (`HTTP/1.0`
 * or `HTTP/1.1`, a 3-digit code), skips 1xx interim responses (101 is final: the
 * connection then belongs to another protocol), validates every header byte like llhttp
 * does (token names, no control bytes in values, CRLF line endings, no folding), and frames
 * the body by Content-Length, chunked (CRLF checked after every chunk, trailers
 * validated), or the close; HEAD, 1xx, 204 and 304 responses have none.
 *
 * The fast path allocates nothing: it runs over the bytes of each read (which may live in a
 * buffer shared by many connections) and keeps only numbers across reads; strings are made
 * only when `headers: true` asks for them. Responses may be split anywhere or pipelined
 * several to a read. Anything it cannot frame throws HttpParseError with a stable `reason`
 * (HttpParseReasons); the caller closes that connection.
 */
export class Http1ResponseParser {
  /** Status code of the response being parsed, or of the last one completed. */
  statusCode = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  httpMinor = 1;
  /** Body bytes of the response being parsed, or of the last one completed (chunk framing excluded). */
  bodyBytes = 0;
  /** Whether the connection may carry another response after the last one completed. */
  keepAlive = true;
  /** The last final response's headers, names lower-cased, values trimmed, in arrival order (only with `headers: true`). */
  headers: Array<[string, string]> | null = null;

  private state = S_STATUS_PREFIX;
  /** Bytes matched of the status prefix, digits of the status code, or length of the name/token in scratch. */
  private pos = 0;
  private headBytes = 0;
  private remaining = 0;
  private readonly head: boolean;
  private readonly maxHeadBytes: number;
  private readonly onResponse: OnHttp1Response;
  private readonly onInformation: ((status: number) => void) | undefined;
  private readonly onHead: ((status: number, bodyFollows: boolean) => void) | undefined;
  // Per response head:
  private inTrailers = false;
  /** A 1xx came: the final response is still owed. */
  private afterInterim = false;
  private field = H_OTHER;
  private contentLength = -1;
  private hasTransferEncoding = false;
  private chunked = false;
  private connClose = false;
  private connKeepAlive = false;
  /** Content-Length digits: state within the value (0 before digits, 1 in digits, 2 in trailing spaces). */
  private clPhase = 0;
  private clValue = 0;
  /** Token of a Transfer-Encoding or Connection value, lower-cased, in scratch[0..tokLen). */
  private tokLen = 0;
  private tokDirty = false;
  private tokSpace = false;
  private chunkSizeDigits = 0;
  private readonly scratch = new Uint8Array(SCRATCH);
  /** End of the bytes of the current read (an error's excerpt never shows what lies past them). */
  private limit = 0;
  /** Head bytes kept for `headers: true`, copied from each read. */
  private headParts: Buffer[] | null;

  constructor(onResponse: OnHttp1Response, options: Http1ResponseParserOptions = {}) {
    this.onResponse = onResponse;
    this.onInformation = options.onInformation;
    this.onHead = options.onHead;
    this.head = options.head === true;
    this.maxHeadBytes = options.maxHeadBytes ?? HTTP1_MAX_HEAD_BYTES;
    this.headParts = options.headers === true ? [] : null;
  }

  /** True while a response has started but not ended (its end may be the connection's close). */
  get midResponse(): boolean {
    const s = this.state;
    if (s === S_STATUS_PREFIX) return this.pos > 0 || this.afterInterim;
    return s !== S_CLOSED && s !== S_UPGRADED;
  }

  /**
   * The connection ended (the peer's FIN). Completes a body delimited by the close and
   * returns true; returns false when a response was cut short.
   */
  end(): boolean {
    if (this.state === S_UNTIL_CLOSE) {
      this.complete(false);
      return true;
    }
    return !this.midResponse;
  }

  /**
   * Feeds the bytes of one read, `buf[0..end)` (a reader with one shared buffer passes the
   * read's length instead of making a view of it). Throws HttpParseError on a response it cannot frame.
   */
  execute(buf: Uint8Array, end: number = buf.length): void {
    const n = Math.min(end, buf.length);
    this.limit = n;
    let i = 0;
    let headFrom = this.isHeadState() ? 0 : -1;
    while (i < n) {
      switch (this.state) {
        case S_STATUS_PREFIX: {
          if (headFrom < 0) headFrom = i;
          if (this.pos === 0 && n - i >= 13 && this.statusLineAt(buf, i)) {
            // The whole "HTTP/1.x NNN" in this read: checked at once (the usual case).
            i += 12;
            this.state = S_STATUS_AFTER_CODE;
            break;
          }
          const c = buf[i]!;
          if (c !== STATUS_PREFIX[this.pos]) this.fail('BAD_STATUS_LINE', 'not an HTTP/1.x status line', buf, i);
          i++;
          if (++this.pos === STATUS_PREFIX.length) this.state = S_STATUS_MINOR;
          break;
        }
        case S_STATUS_MINOR: {
          const c = buf[i++]!;
          if (c !== 48 && c !== 49) this.fail('BAD_STATUS_LINE', 'not HTTP/1.0 or HTTP/1.1', buf, i - 1);
          this.httpMinor = c - 48;
          this.state = S_STATUS_SP;
          break;
        }
        case S_STATUS_SP:
          if (buf[i++] !== SP) this.fail('BAD_STATUS_LINE', 'no space after the HTTP version', buf, i - 1);
          this.state = S_STATUS_CODE;
          this.pos = 0;
          this.statusCode = 0;
          break;
        case S_STATUS_CODE: {
          const c = buf[i++]!;
          if (c < 48 || c > 57) this.fail('BAD_STATUS_LINE', 'the status code is not 3 digits', buf, i - 1);
          this.statusCode = this.statusCode * 10 + (c - 48);
          if (++this.pos === 3) this.state = S_STATUS_AFTER_CODE;
          break;
        }
        case S_STATUS_AFTER_CODE: {
          const c = buf[i++]!;
          if (c === SP) this.state = S_REASON;
          else if (c === CR) this.state = S_LINE_LF;
          else this.fail('BAD_STATUS_LINE', 'the status code is not 3 digits', buf, i - 1);
          break;
        }
        case S_REASON: {
          // Any byte but CR and LF (llhttp takes control bytes and obs-text in the reason phrase).
          while (i < n && buf[i] !== CR && buf[i] !== LF) i++;
          if (i === n) break;
          if (buf[i] === LF) this.fail('BAD_STATUS_LINE', 'the status line ends with LF, not CRLF', buf, i);
          i++;
          this.state = S_LINE_LF;
          break;
        }
        case S_LINE_LF:
          if (buf[i++] !== LF) this.fail('BAD_STATUS_LINE', 'CR not followed by LF on the status line', buf, i - 1);
          this.checkHeadSize(headFrom, i);
          this.state = S_FIELD_START;
          break;
        case S_FIELD_START: {
          const c = buf[i]!;
          if (c === CR) {
            i++;
            this.state = S_HEAD_END_LF;
          } else if (TCHAR[c] === 1) {
            this.state = S_NAME;
            this.pos = 0;
          } else if (c === SP || c === HTAB) {
            this.fail('BAD_HEADER', 'a header line starts with whitespace (obsolete line folding)', buf, i);
          } else if (c === LF) {
            this.fail('BAD_HEADER', 'a header line ends with LF, not CRLF', buf, i);
          } else {
            this.fail('BAD_HEADER', `a header name starts with byte 0x${c.toString(16)}`, buf, i);
          }
          break;
        }
        case S_NAME: {
          const scratch = this.scratch;
          let len = this.pos;
          let c = 0;
          while (i < n) {
            c = buf[i]!;
            if (TCHAR[c] !== 1) break;
            if (len < SCRATCH) scratch[len] = c | 0x20;
            len++;
            i++;
          }
          this.pos = len;
          if (i === n) break;
          if (c !== 58 /* : */) {
            this.fail(
              'BAD_HEADER',
              c === SP || c === HTAB
                ? 'whitespace before the colon of a header'
                : c === CR || c === LF
                  ? 'a header line without a colon'
                  : `byte 0x${c.toString(16)} in a header name`,
              buf,
              i,
            );
          }
          i++;
          this.startValue(len);
          this.state = S_VALUE;
          break;
        }
        case S_VALUE: {
          if (this.field === H_OTHER || this.field === H_TRAILER) {
            while (i < n && VCHAR[buf[i]!] === 1) i++;
            if (i === n) break;
          } else {
            while (i < n) {
              const c = buf[i]!;
              if (VCHAR[c] !== 1) break;
              this.valueByte(c);
              i++;
            }
            if (i === n) break;
          }
          const c = buf[i]!;
          if (c !== CR) {
            this.fail(
              'BAD_HEADER',
              c === LF ? 'a header line ends with LF, not CRLF' : `byte 0x${c.toString(16)} in a header value`,
              buf,
              i,
            );
          }
          i++;
          this.state = S_VALUE_CR;
          break;
        }
        case S_VALUE_CR:
          if (buf[i++] !== LF) this.fail('BAD_HEADER', 'CR not followed by LF in a header line', buf, i - 1);
          this.endValue();
          this.checkHeadSize(headFrom, i);
          this.state = S_FIELD_START;
          break;
        case S_HEAD_END_LF:
          if (buf[i++] !== LF) this.fail('BAD_HEADER', 'CR not followed by LF at the end of the headers', buf, i - 1);
          this.checkHeadSize(headFrom, i);
          if (this.inTrailers) {
            this.inTrailers = false;
            headFrom = -1;
            this.complete(true);
          } else {
            if (this.headParts !== null) this.headParts.push(Buffer.from(buf.subarray(headFrom, i)));
            headFrom = -1;
            this.headComplete();
          }
          break;
        case S_BODY_LENGTH: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          this.bodyBytes += take;
          i += take;
          if (this.remaining === 0) this.complete(true);
          break;
        }
        case S_CHUNK_SIZE: {
          const d = HEX[buf[i]!]!;
          if (d >= 0) {
            if (this.remaining > (MAX_SAFE - d) / 16) this.fail('BAD_CHUNK_SIZE', 'chunk size over 2^53', buf, i);
            this.remaining = this.remaining * 16 + d;
            this.chunkSizeDigits++;
            i++;
            break;
          }
          if (this.chunkSizeDigits === 0) this.fail('BAD_CHUNK_SIZE', 'a chunk size that is not hex digits', buf, i);
          const c = buf[i++]!;
          if (c === CR) this.state = S_CHUNK_SIZE_LF;
          else if (c === 59 /* ; */) this.state = S_CHUNK_EXT;
          else this.fail('BAD_CHUNK_SIZE', `byte 0x${c.toString(16)} after a chunk size`, buf, i - 1);
          break;
        }
        case S_CHUNK_EXT: {
          const from = i;
          while (i < n && VCHAR[buf[i]!] === 1) i++;
          this.pos += i - from;
          if (this.pos > MAX_CHUNK_LINE) this.fail('BAD_CHUNK_SIZE', `chunk extension over ${MAX_CHUNK_LINE} bytes`);
          if (i === n) break;
          if (buf[i] !== CR) this.fail('BAD_CHUNK_SIZE', `byte 0x${buf[i]!.toString(16)} in a chunk extension`, buf, i);
          i++;
          this.state = S_CHUNK_SIZE_LF;
          break;
        }
        case S_CHUNK_SIZE_LF:
          if (buf[i++] !== LF) this.fail('BAD_CHUNK_SIZE', 'the chunk size line ends without CRLF', buf, i - 1);
          if (this.remaining === 0) {
            // Last chunk: trailer fields follow, then an empty line.
            this.inTrailers = true;
            this.headBytes = 0;
            headFrom = i;
            this.state = S_FIELD_START;
          } else {
            this.state = S_CHUNK_DATA;
          }
          break;
        case S_CHUNK_DATA: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          this.bodyBytes += take;
          i += take;
          if (this.remaining === 0) this.state = S_CHUNK_DATA_CR;
          break;
        }
        case S_CHUNK_DATA_CR:
          if (buf[i++] !== CR) this.fail('BAD_CHUNK_END', 'chunk data is not followed by CRLF', buf, i - 1);
          this.state = S_CHUNK_DATA_LF;
          break;
        case S_CHUNK_DATA_LF:
          if (buf[i++] !== LF) this.fail('BAD_CHUNK_END', 'chunk data is not followed by CRLF', buf, i - 1);
          this.startChunk();
          break;
        case S_UNTIL_CLOSE:
          this.bodyBytes += n - i;
          i = n;
          break;
        case S_CLOSED:
        case S_UPGRADED:
          // After the close nothing can come; after 101 Switching Protocols the bytes are another protocol's.
          i = n;
          break;
      }
    }
    if (headFrom >= 0 && this.isHeadState()) {
      this.checkHeadSize(headFrom, n);
      this.headBytes += n - headFrom;
      if (this.headParts !== null && !this.inTrailers) this.headParts.push(Buffer.from(buf.subarray(headFrom, n)));
    }
  }

  /** `HTTP/1.0 NNN` or `HTTP/1.1 NNN` at `i` (sets the version and status); false to take the byte-at-a-time path. */
  private statusLineAt(b: Uint8Array, i: number): boolean {
    const minor = b[i + 7]! - 48;
    const d0 = b[i + 9]! - 48;
    const d1 = b[i + 10]! - 48;
    const d2 = b[i + 11]! - 48;
    if (
      b[i] !== 72 ||
      b[i + 1] !== 84 ||
      b[i + 2] !== 84 ||
      b[i + 3] !== 80 ||
      b[i + 4] !== 47 ||
      b[i + 5] !== 49 ||
      b[i + 6] !== 46 ||
      (minor !== 0 && minor !== 1) ||
      b[i + 8] !== SP ||
      d0 < 0 ||
      d0 > 9 ||
      d1 < 0 ||
      d1 > 9 ||
      d2 < 0 ||
      d2 > 9
    ) {
      return false;
    }
    this.httpMinor = minor;
    this.statusCode = d0 * 100 + d1 * 10 + d2;
    return true;
  }

  /** In the status line, the headers or the trailers (bytes that count against maxHeadBytes). */
  private isHeadState(): boolean {
    const s = this.state;
    return s === S_STATUS_PREFIX ? this.pos > 0 : s <= S_VALUE_CR;
  }

  /** Refuses a head (or trailer section) over the limit: bytes of earlier reads plus this read's from `from` to `to`. */
  private checkHeadSize(from: number, to: number): void {
    if (this.headBytes + (to - from) > this.maxHeadBytes) {
      this.fail(
        'HEAD_TOO_LARGE',
        `${this.inTrailers ? 'trailers' : 'response head'} larger than ${this.maxHeadBytes} bytes`,
      );
    }
  }

  private startValue(nameLen: number): void {
    this.tokLen = 0;
    this.tokDirty = false;
    this.tokSpace = false;
    if (this.inTrailers) {
      this.field = H_TRAILER;
      return;
    }
    this.field = H_OTHER;
    const s = this.scratch;
    if (nameLen === 14 && same(s, NAME_CONTENT_LENGTH)) {
      if (this.contentLength >= 0) this.fail('CONFLICTING_CONTENT_LENGTH', 'more than one Content-Length header');
      if (this.hasTransferEncoding) {
        this.fail('TRANSFER_ENCODING_WITH_CONTENT_LENGTH', 'both Transfer-Encoding and Content-Length');
      }
      this.field = H_CONTENT_LENGTH;
      this.clPhase = 0;
      this.clValue = 0;
    } else if (nameLen === 17 && same(s, NAME_TRANSFER_ENCODING)) {
      this.field = H_TRANSFER_ENCODING;
    } else if (nameLen === 10 && same(s, NAME_CONNECTION)) {
      this.field = H_CONNECTION;
    }
  }

  /** One byte of a Content-Length, Transfer-Encoding or Connection value (already known to be a VCHAR). */
  private valueByte(c: number): void {
    if (this.field === H_CONTENT_LENGTH) {
      if (c >= 48 && c <= 57) {
        if (this.clPhase === 2) this.fail('BAD_CONTENT_LENGTH', 'Content-Length is not one number');
        this.clPhase = 1;
        if (this.clValue > (MAX_SAFE - (c - 48)) / 10) this.fail('BAD_CONTENT_LENGTH', 'Content-Length over 2^53');
        this.clValue = this.clValue * 10 + (c - 48);
      } else if ((c === SP || c === HTAB) && this.clPhase === 0) {
        // leading whitespace
      } else if (c === SP && this.clPhase >= 1) {
        this.clPhase = 2;
      } else {
        this.fail('BAD_CONTENT_LENGTH', `Content-Length holds byte 0x${c.toString(16)}, not only digits`);
      }
      return;
    }
    // A list of tokens (RFC 9110 5.6.1): commas separate, whitespace around them is ignored.
    if (c === 44 /* , */) {
      this.endToken();
    } else if (c === SP || c === HTAB) {
      if (this.tokLen > 0) this.tokSpace = true;
    } else {
      if (this.tokSpace) this.tokDirty = true;
      if (this.tokLen < SCRATCH) this.scratch[this.tokLen] = c | 0x20;
      else this.tokDirty = true;
      this.tokLen++;
    }
  }

  private endToken(): void {
    const len = this.tokLen;
    if (len > 0) {
      const s = this.scratch;
      const clean = !this.tokDirty && len <= SCRATCH;
      if (this.field === H_TRANSFER_ENCODING) {
        if (this.contentLength >= 0) {
          this.fail('TRANSFER_ENCODING_WITH_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding');
        }
        this.hasTransferEncoding = true;
        // The last coding decides: chunked last means chunked framing, anything else the close (RFC 9112 6.3).
        this.chunked = clean && len === 7 && same(s, TOKEN_CHUNKED);
      } else if (clean) {
        if (len === 5 && same(s, TOKEN_CLOSE)) this.connClose = true;
        else if (len === 10 && same(s, TOKEN_KEEP_ALIVE)) this.connKeepAlive = true;
      }
    }
    this.tokLen = 0;
    this.tokDirty = false;
    this.tokSpace = false;
  }

  private endValue(): void {
    const f = this.field;
    if (f === H_CONTENT_LENGTH) {
      if (this.clPhase === 0) this.fail('BAD_CONTENT_LENGTH', 'an empty Content-Length');
      this.contentLength = this.clValue;
    } else if (f === H_TRANSFER_ENCODING || f === H_CONNECTION) {
      this.endToken();
    }
  }

  private headComplete(): void {
    const status = this.statusCode;
    if (status >= 100 && status < 200 && status !== 101) {
      // 1xx interim (100 Continue, 103 Early Hints): no body, the final response follows.
      this.resetHead();
      this.afterInterim = true;
      this.onInformation?.(status);
      return;
    }
    this.bodyBytes = 0;
    if (this.headParts !== null) this.headers = splitHeaders(this.headParts);
    this.keepAlive = this.httpMinor === 1 ? !this.connClose : this.connKeepAlive && !this.connClose;
    if (status === 101) {
      this.keepAlive = false;
      this.finish(S_UPGRADED);
      return;
    }
    if (this.onHead !== undefined) {
      const bodyless =
        this.head || status === 204 || status === 304 || (!this.hasTransferEncoding && this.contentLength === 0);
      this.onHead(status, !bodyless);
    }
    if (this.head || status === 204 || status === 304) {
      this.complete(true);
    } else if (this.hasTransferEncoding) {
      if (this.chunked) this.startChunk();
      else this.untilClose();
    } else if (this.contentLength >= 0) {
      this.remaining = this.contentLength;
      if (this.remaining === 0) this.complete(true);
      else this.state = S_BODY_LENGTH;
    } else {
      this.untilClose();
    }
  }

  private untilClose(): void {
    this.keepAlive = false;
    this.state = S_UNTIL_CLOSE;
  }

  private startChunk(): void {
    this.state = S_CHUNK_SIZE;
    this.remaining = 0;
    this.chunkSizeDigits = 0;
    this.pos = 0;
  }

  /**
   * The response's last byte arrived (`framed`), or the close ended its body. After a
   * framed response that says `Connection: close` the parser still reads what follows:
   * node's server, past maxRequestsPerSocket, answers requests already pipelined with 503s.
   */
  private complete(framed: boolean): void {
    this.finish(framed ? S_STATUS_PREFIX : S_CLOSED);
  }

  private finish(next: number): void {
    const status = this.statusCode;
    const keepAlive = this.keepAlive;
    this.resetHead();
    this.afterInterim = false;
    this.state = next;
    this.onResponse(status, keepAlive);
  }

  private resetHead(): void {
    this.state = S_STATUS_PREFIX;
    this.pos = 0;
    this.headBytes = 0;
    this.inTrailers = false;
    this.contentLength = -1;
    this.hasTransferEncoding = false;
    this.chunked = false;
    this.connClose = false;
    this.connKeepAlive = false;
    if (this.headParts !== null) this.headParts.length = 0;
  }

  private fail(reason: HttpParseReason, what: string, buf?: Uint8Array, at?: number): never {
    const near =
      buf !== undefined && at !== undefined
        ? ` near "${Buffer.from(buf.subarray(Math.max(0, at - 16), Math.min(at + 16, this.limit)))
            .toString('latin1')
            .replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`
        : '';
    throw new HttpParseError(reason, `${what}${near}`);
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  for (let k = 0; k < b.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** The header lines of a head (already validated): names lower-cased, values trimmed. */
function splitHeaders(parts: Buffer[]): Array<[string, string]> {
  const text = Buffer.concat(parts).toString('latin1');
  const out: Array<[string, string]> = [];
  const lines = text.split('\r\n');
  // lines[0] is the status line; the head ends with an empty line (two more empty strings).
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    out.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return out;
}
