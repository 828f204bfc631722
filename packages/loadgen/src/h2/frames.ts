import { HttpParseError } from '@kalab/core';

/** HTTP/2 wire constants (RFC 9113 §4, §6, §7, §11). */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER = 9;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;

/** RFC 9113 §7's name of an error code (unknown codes as hex: they must be treated as INTERNAL_ERROR, but the report says which). */
function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** The largest window and stream id (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;
/** The frame size every peer must accept, and what we advertise (we never raise it). */
export const DEFAULT_MAX_FRAME = 16_384;
export const DEFAULT_WINDOW = 65_535;

/**
 * A connection error the server caused (a bad frame, a broken header block): the session's
 * streams fail with it, counted under KALAB_ERR_HTTP_PARSE (reason H2_<error name>), and we
 * send GOAWAY with `h2Code`.
 */
export function connectionError(h2Code: number, message: string): HttpParseError & { h2Code: number } {
  return Object.assign(new HttpParseError(`H2_${errorName(h2Code)}`, `HTTP/2 ${errorName(h2Code)}: ${message}`), {
    h2Code,
  });
}

/** A stream the server reset (RST_STREAM) or refused: it fails under `H2_<error name>` (H2_REFUSED_STREAM, H2_CANCEL...). */
export function streamError(code: number, what: string): Error & { code: string } {
  const name = errorName(code);
  return Object.assign(new Error(`HTTP/2 stream ${what} with ${name}`), { code: `H2_${name}` });
}

/** Writes a frame header at `at`. */
export function frameHeader(
  out: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  stream: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(stream, at + 5);
}

/** A whole frame as its own buffer (rare frames: SETTINGS, GOAWAY, WINDOW_UPDATE...). */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frameHeader(b, 0, payload.length, type, flags, stream);
  payload.copy(b, FRAME_HEADER);
  return b;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const p = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, stream, p);
}

export function rstStreamFrame(stream: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, stream, p);
}

export function goawayFrame(lastStream: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(lastStream, 0);
  p.writeUInt32BE(code, 4);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

/**
 * The request's HEADERS frame (and CONTINUATIONs when the block exceeds the 16 KiB every
 * peer accepts), built once: per stream only the id (at `idOffsets`) changes.
 */
export interface HeadersTemplate {
  bytes: Buffer;
  idOffsets: number[];
}

export function headersTemplate(block: Buffer, endStream: boolean): HeadersTemplate {
  const frames: Buffer[] = [];
  const idOffsets: number[] = [];
  let at = 0;
  let off = 0;
  do {
    const n = Math.min(DEFAULT_MAX_FRAME, block.length - off);
    const last = off + n >= block.length;
    const type = off === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    let flags = last ? Flag.END_HEADERS : 0;
    if (off === 0 && endStream) flags |= Flag.END_STREAM;
    frames.push(frame(type, flags, 0, block.subarray(off, off + n)));
    idOffsets.push(at + 5);
    at += FRAME_HEADER + n;
    off += n;
  } while (off < block.length);
  return { bytes: Buffer.concat(frames), idOffsets };
}
