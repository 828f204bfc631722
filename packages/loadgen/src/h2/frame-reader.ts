import { connectionError, DEFAULT_MAX_FRAME, ErrorCode, Flag, FRAME_HEADER, FrameType } from './frames.js';

/** What the frame reader hands on: the session's side of the connection. */
export interface FrameSink {
  /** A frame header was read (before its payload): the sink may refuse the frame type here. */
  frameStart(type: number): void;
  /** A whole frame other than DATA, its payload at buf[s, e) (valid only during the call). */
  frame(type: number, flags: number, id: number, buf: Buffer, s: number, e: number): void;
  /** A DATA frame's header: `len` payload bytes (padding included) follow, across reads if need be; never handed on. */
  dataBegin(id: number, flags: number, len: number): void;
  /** The last payload byte of the DATA frame begun last has arrived. */
  dataEnd(): void;
}

/**
 * The HTTP/2 frame reader, apart from the socket: reads arrive in any split, and what a read
 * leaves unfinished waits for the next one: a partial frame header or non-DATA frame (`rest`,
 * copied: reads come in a buffer the caller reuses), the DATA payload still to come
 * (`dataLeft`, skipped as it arrives, never buffered), and a DATA frame's pad length not read
 * yet (`padPending`). Frames above our 16 KiB maximum and padding longer than its frame are
 * connection errors (thrown). `live()` false stops the reader mid-read (the session died).
 */
export class FrameReader {
  private rest: Buffer | null = null;
  private dataLeft = 0;
  private dataLen = 0;
  private padPending = false;
  /** `rest` begins with a frame whose header the sink has seen already (its payload was incomplete). */
  private started = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly live: () => boolean,
  ) {}

  /** Bytes of an unfinished frame kept for the next read (tests). */
  get pending(): number {
    return (this.rest?.length ?? 0) + this.dataLeft;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const end = buf.length;
    let pos = 0;
    let started = this.started;
    this.started = false;
    while (pos < end && this.live()) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, end - pos);
        if (this.padPending) {
          this.padPending = false;
          if (buf[pos]! >= this.dataLen)
            throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding longer than the frame');
        }
        pos += n;
        this.dataLeft -= n;
        if (this.dataLeft === 0) this.sink.dataEnd();
        continue;
      }
      if (end - pos < FRAME_HEADER) break;
      const len = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      if (len > DEFAULT_MAX_FRAME)
        throw connectionError(ErrorCode.FRAME_SIZE_ERROR, `a ${len}-byte frame (type ${type}) above our 16384`);
      if (!started) this.sink.frameStart(type);
      started = false;
      if (type === FrameType.DATA) {
        pos += FRAME_HEADER;
        this.dataLen = len;
        this.dataLeft = len;
        this.padPending = (flags & Flag.PADDED) !== 0;
        this.sink.dataBegin(id, flags, len);
        if (len === 0) this.sink.dataEnd();
        continue;
      }
      if (end - pos - FRAME_HEADER < len) {
        this.started = true;
        break;
      }
      this.sink.frame(type, flags, id, buf, pos + FRAME_HEADER, pos + FRAME_HEADER + len);
      pos += FRAME_HEADER + len;
    }
    // The rest of a frame waits for the next read (copied: the read buffer is shared).
    if (pos < end && this.live()) this.rest = Buffer.from(buf.subarray(pos));
  }
}
