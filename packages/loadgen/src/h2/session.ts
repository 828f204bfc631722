import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HttpParseError, peerClosedError } from '@kalab/core';
import type { Dialer } from '../dial.js';
import type { Done } from '../engine.js';
import type { WorkerStats } from '../worker-stats.js';
import { FrameReader } from './frame-reader.js';
import {
  connectionError,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER,
  FrameType,
  frameHeader,
  goawayFrame,
  type HeadersTemplate,
  MAX_WINDOW,
  PREFACE,
  rstStreamFrame,
  Setting,
  settingsFrame,
  streamError,
  windowUpdateFrame,
} from './frames.js';
import { HpackDecoder } from './hpack.js';

/** One read buffer per worker, shared by every session (reads are parsed synchronously; leftovers are copied). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Our receive windows (connection and, with bodies read, each stream): 2^30 - 1, as h2load's `-w 30 -W 30`. */
const RECV_WINDOW = 0x3fffffff;
/** A window is replenished once half of it has been consumed. */
const RECV_REFILL = RECV_WINDOW >>> 1;
/** Streams opened before the server's SETTINGS say how many it allows (RFC 9113 §6.5.2 recommends at least 100). */
const STREAMS_BEFORE_SETTINGS = 100;
/** A header block (HEADERS + CONTINUATIONs) larger than this ends the session (ENHANCE_YOUR_CALM). */
const MAX_HEADER_BLOCK = 1024 * 1024;
/** Stream ids are 31 bits: a session whose next id would pass this is spent (the engine opens a new one). */
const LAST_STREAM_ID = 0x7fffffff;

/** What a session needs from its engine, fixed for the run. */
export interface SessionConfig {
  dial: Dialer;
  stats: WorkerStats;
  nextLocalAddress: () => string | undefined;
  /** The request's HEADERS (+ CONTINUATION) frames, encoded once. */
  template: HeadersTemplate;
  /** The request body (null or empty: END_STREAM on HEADERS). */
  body: Buffer | null;
  /** --no-consume-body off: a request ends with its response's END_STREAM; on: at its final HEADERS. */
  consume: boolean;
  /** --streams: concurrent streams wanted on a session (capped by the server's MAX_CONCURRENT_STREAMS). */
  streams: number;
  /** A request the session hands back unsent (above a GOAWAY's last stream id, or queued on a session that ended). */
  retry: (slot: number, done: Done) => void;
  /** The worker's h2 counts (they travel in the stats envelope's counters). */
  counters: H2Counters;
  /** The first stream id (default 1; tests start near 2^31 to see a session run out of ids). */
  firstStreamId?: number;
}

/** What the report's `h2` object is made of, per worker: streams opened, and the smallest MAX_CONCURRENT_STREAMS a server announced (0: none). */
export interface H2Counters {
  streams: number;
  peerMaxStreams: number;
}

class Stream {
  /** The driver's callback; null once called (with --no-consume-body, at the final HEADERS). */
  done: Done | null;
  status = 0;
  /** Body bytes sent so far, and what the stream's send window still allows. */
  bodyOff = 0;
  sendWindow: number;
  /** DATA bytes received since our last WINDOW_UPDATE for this stream. */
  recv = 0;

  constructor(
    readonly id: number,
    done: Done,
    readonly t0: number,
    readonly reused: boolean,
    sendWindow: number,
  ) {
    this.done = done;
    this.sendWindow = sendWindow;
  }
}

/**
 * One HTTP/2 connection of the lean engine: the preface and our SETTINGS (no push, a 1 GiB
 * receive window, replenished as DATA arrives), the request's HEADERS frames copied from a
 * template with the stream id patched in, DATA for bodies within the server's windows and
 * frame size, and a frame parser that reads only what the counts need (`:status`, END_STREAM,
 * flow control, SETTINGS, PING, GOAWAY, RST_STREAM) while keeping the HPACK table in step.
 * Writes made while handling one read (or in one turn of the event loop) leave in one write.
 */
export class H2Session {
  readonly socket: Socket;
  /** No new streams: GOAWAY received, ids exhausted, or the session failed / is closing. */
  private unusable = false;
  private dead = false;
  private readonly streams = new Map<number, Stream>();
  /** Requests waiting for a stream (the server's MAX_CONCURRENT_STREAMS is below --streams). */
  private readonly queue: Done[] = [];
  private readonly queueT0: number[] = [];
  private nextId = 1;
  /** Streams opened, and final responses received, on this session. */
  opened = 0;
  private answered = 0;
  private peerMaxStreams = STREAMS_BEFORE_SETTINGS;
  private settingsSeen = false;
  /** Streams below this id were opened before the server's first SETTINGS (its limit unknown). */
  private firstIdAfterSettings = LAST_STREAM_ID + 2;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private sendWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  /** Streams with body bytes waiting for window. */
  private readonly blocked = new Set<Stream>();
  private readonly decoder = new HpackDecoder();
  /** Frames from the socket's reads, in any split (its own unit: frame-reader.ts). */
  private readonly reader: FrameReader;
  // The DATA frame being received, and the header block being assembled.
  private dataStream = 0;
  private dataFlags = 0;
  private hdrStream = 0;
  private hdrFlags = 0;
  private hdrParts: Buffer[] = [];
  private hdrBytes = 0;
  // Writer state.
  private out = Buffer.allocUnsafe(16 * 1024);
  private outLen = 0;
  private flushQueued = false;
  private readonly flushBound = () => this.flush();
  private connected = false;
  private closedResolve: (() => void) | null = null;
  readonly closed: Promise<void>;

  constructor(
    private readonly cfg: SessionConfig,
    /** The engine's session slot this session serves (retries go back to it). */
    readonly slot: number,
  ) {
    this.nextId = cfg.firstStreamId ?? 1;
    this.reader = new FrameReader(
      {
        frameStart: (type) => {
          if (this.hdrStream !== 0 && type !== FrameType.CONTINUATION)
            throw connectionError(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
        },
        frame: (type, flags, id, buf, s, e) => this.frame(type, flags, id, buf, s, e),
        dataBegin: (id, flags, len) => this.dataBegin(id, flags, len),
        dataEnd: () => this.dataEnd(),
      },
      () => !this.dead,
    );
    this.closed = new Promise((r) => {
      this.closedResolve = r;
    });
    const t0 = performance.now();
    const s = cfg.dial({
      localAddress: cfg.nextLocalAddress(),
      alpn: ['h2'],
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          if (!this.dead) this.onData((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    this.socket = s;
    s.once('connect', () => {
      this.connected = true;
      cfg.stats.opened((performance.now() - t0) * 1000);
    });
    if ((s as TLSSocket).encrypted === true)
      s.once('secureConnect', () => {
        const alpn = (s as TLSSocket).alpnProtocol;
        if (alpn !== 'h2')
          this.fatal(
            new HttpParseError(
              'H2_NO_ALPN',
              `the server did not agree to HTTP/2 by ALPN (it chose ${alpn === false ? 'none' : alpn})`,
            ),
            false,
          );
      });
    s.on('error', (err) => this.gone(err));
    s.on('end', () => this.gone(null));
    s.once('close', () => {
      if (this.connected) cfg.stats.closed();
      this.gone(null);
      this.closedResolve?.();
    });
    // The preface, our SETTINGS and the connection window. No push. A header table of 0: the
    // server's encoder then signals a size update of 0 and indexes nothing for us, so its
    // literals are skipped, not decoded (until it applies the setting, its blocks are decoded
    // with the full table). --no-consume-body keeps the default stream window, so an unread
    // body stalls its stream as in node:http2.
    const settings: Array<[number, number]> = [
      [Setting.HEADER_TABLE_SIZE, 0],
      [Setting.ENABLE_PUSH, 0],
    ];
    if (cfg.consume) settings.push([Setting.INITIAL_WINDOW_SIZE, RECV_WINDOW]);
    this.append(PREFACE);
    this.append(settingsFrame(settings));
    this.append(windowUpdateFrame(0, RECV_WINDOW - DEFAULT_WINDOW));
  }

  /** True while new requests may go on this session. */
  get usable(): boolean {
    return !this.unusable;
  }

  /** Requests on this session not answered yet (streams and queued). */
  get load(): number {
    return this.streams.size + this.queue.length;
  }

  request(done: Done): void {
    if (this.streams.size >= this.limit()) {
      this.queue.push(done);
      this.queueT0.push(performance.now());
      return;
    }
    this.open(done, performance.now());
  }

  /** --timeout: the oldest unanswered request (a stream, or one queued) waited `timeoutMs`: the session is dead. */
  expired(now: number, timeoutMs: number): boolean {
    const q = this.queueT0[0];
    if (q !== undefined && now - q >= timeoutMs) return true;
    for (const st of this.streams.values()) {
      if (st.done === null) continue;
      return now - st.t0 >= timeoutMs;
    }
    return false;
  }

  /** Fails every request on the session with `err` and destroys it (the --timeout path). */
  destroyWith(err: Error): void {
    this.fatal(err, false);
  }

  /**
   * End of the run: streams still in flight were abandoned by the driver: RST_STREAM(CANCEL)
   * each, GOAWAY, then FIN; the server's FIN closes the socket (leaving our TIME_WAIT, as a
   * client that closes first has). Destroyed if still open after `graceMs`.
   */
  closeGracefully(graceMs: number): Promise<void> {
    this.unusable = true;
    if (!this.dead) {
      this.dead = true;
      for (const st of this.streams.values()) this.append(rstStreamFrame(st.id, ErrorCode.CANCEL));
      this.streams.clear();
      this.queue.length = 0;
      this.queueT0.length = 0;
      this.append(goawayFrame(0, ErrorCode.NO_ERROR));
      this.flush();
      this.socket.end();
    }
    if (this.socket.destroyed) return Promise.resolve();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    return this.closed.then(() => clearTimeout(timer));
  }

  private limit(): number {
    return Math.min(this.cfg.streams, this.peerMaxStreams);
  }

  private open(done: Done, t0: number): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > LAST_STREAM_ID) this.unusable = true;
    const st = new Stream(id, done, t0, this.opened++ > 0, this.peerInitialWindow);
    this.cfg.counters.streams++;
    this.streams.set(id, st);
    const t = this.cfg.template;
    const at = this.reserve(t.bytes.length);
    t.bytes.copy(this.out, at);
    for (const o of t.idOffsets) this.out.writeUInt32BE(id, at + o);
    const body = this.cfg.body;
    if (body !== null && body.length > 0) this.sendBody(st, body);
  }

  /** DATA frames within the connection's and the stream's windows and the server's frame size; the rest waits for WINDOW_UPDATE. */
  private sendBody(st: Stream, body: Buffer): void {
    while (st.bodyOff < body.length) {
      const n = Math.min(body.length - st.bodyOff, this.sendWindow, st.sendWindow, this.peerMaxFrame);
      if (n <= 0) {
        this.blocked.add(st);
        return;
      }
      const end = st.bodyOff + n === body.length;
      const at = this.reserve(FRAME_HEADER);
      frameHeader(this.out, at, n, FrameType.DATA, end ? Flag.END_STREAM : 0, st.id);
      if (n <= 1024) {
        const p = this.reserve(n);
        body.copy(this.out, p, st.bodyOff, st.bodyOff + n);
      } else {
        // Large payloads go out as slices of the body, never copied.
        this.flush();
        this.socket.write(body.subarray(st.bodyOff, st.bodyOff + n));
      }
      st.bodyOff += n;
      st.sendWindow -= n;
      this.sendWindow -= n;
    }
    this.blocked.delete(st);
  }

  private unblock(): void {
    const body = this.cfg.body;
    if (body === null || this.blocked.size === 0) return;
    for (const st of [...this.blocked]) {
      if (this.sendWindow <= 0) return;
      this.sendBody(st, body);
    }
  }

  // ------------------------------------------------------------ writing

  /** Room for `n` bytes at the end of the pending output; returns where they go. */
  private reserve(n: number): number {
    if (this.outLen + n > this.out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + n));
      this.out.copy(bigger, 0, 0, this.outLen);
      this.out = bigger;
    }
    const at = this.outLen;
    this.outLen += n;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushBound);
    }
    return at;
  }

  private append(b: Buffer): void {
    b.copy(this.out, this.reserve(b.length));
  }

  /** No more requests here: what is pending goes out, then our FIN. */
  private end(): void {
    this.flush();
    this.socket.end();
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outLen === 0) return;
    const n = this.outLen;
    this.outLen = 0;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const b = Buffer.allocUnsafe(n);
    this.out.copy(b, 0, 0, n);
    this.socket.write(b);
  }

  // ------------------------------------------------------------ reading

  private onData(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.fatal(err as Error, true);
    }
  }

  private frame(type: number, flags: number, id: number, buf: Buffer, s: number, e: number): void {
    switch (type) {
      case FrameType.HEADERS:
        this.headers(flags, id, buf, s, e);
        return;
      case FrameType.CONTINUATION:
        this.continuation(flags, id, buf, s, e);
        return;
      case FrameType.SETTINGS:
        this.settings(flags, id, buf, s, e);
        return;
      case FrameType.WINDOW_UPDATE:
        this.windowUpdate(id, buf, s, e);
        return;
      case FrameType.PING:
        if (e - s !== 8) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING of other than 8 bytes');
        if (id !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
        if ((flags & Flag.ACK) === 0) {
          const at = this.reserve(FRAME_HEADER + 8);
          frameHeader(this.out, at, 8, FrameType.PING, Flag.ACK, 0);
          buf.copy(this.out, at + FRAME_HEADER, s, e);
        }
        return;
      case FrameType.RST_STREAM:
        this.rstStream(id, buf, s, e);
        return;
      case FrameType.GOAWAY:
        if (id !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (e - s < 8) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
        this.goaway(buf.readUInt32BE(s) & 0x7fffffff, buf.readUInt32BE(s + 4));
        return;
      case FrameType.PRIORITY:
        if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        return;
      case FrameType.PUSH_PROMISE:
        throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although we sent ENABLE_PUSH 0');
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  private checkStreamId(id: number, what: string): void {
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream 0`);
    if ((id & 1) === 0 || id >= this.nextId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream ${id}, which we never opened`);
  }

  private headers(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    this.checkStreamId(id, 'HEADERS');
    if (flags & Flag.PADDED) {
      if (e - s < 1) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PADDED HEADERS without a pad length');
      const pad = buf[s++]!;
      if (pad > e - s) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
      e -= pad;
    }
    if (flags & Flag.PRIORITY) {
      if (e - s < 5) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority');
      s += 5;
    }
    if (flags & Flag.END_HEADERS) {
      this.headerBlock(id, flags, buf, s, e);
      return;
    }
    this.hdrStream = id;
    this.hdrFlags = flags;
    this.hdrParts = [Buffer.from(buf.subarray(s, e))];
    this.hdrBytes = e - s;
  }

  private continuation(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (this.hdrStream === 0 || id !== this.hdrStream)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${id} outside its header block`);
    this.hdrBytes += e - s;
    if (this.hdrBytes > MAX_HEADER_BLOCK)
      throw connectionError(ErrorCode.ENHANCE_YOUR_CALM, `a header block above ${MAX_HEADER_BLOCK} bytes`);
    this.hdrParts.push(Buffer.from(buf.subarray(s, e)));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.hdrParts);
    const stream = this.hdrStream;
    this.hdrStream = 0;
    this.hdrParts = [];
    this.headerBlock(stream, this.hdrFlags, block, 0, block.length);
  }

  private headerBlock(id: number, flags: number, buf: Buffer, s: number, e: number): void {
    // Every block is decoded, also one of a stream we reset: the HPACK table must stay in step.
    let status: number;
    try {
      status = this.decoder.status(buf, s, e);
    } catch (err) {
      const reason = (err as HttpParseError).reason;
      if (reason === 'H2_BAD_STATUS') throw err;
      throw connectionError(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
    }
    const st = this.streams.get(id);
    if (st === undefined) return;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (st.status === 0) {
      if (status === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, `response on stream ${id} without :status`);
      // 1xx (100 Continue, 103 Early Hints): not the response; the final one follows.
      if (status < 200) {
        if (endStream) throw connectionError(ErrorCode.PROTOCOL_ERROR, `stream ${id} ended on a ${status}`);
        return;
      }
      st.status = status;
      if (st.reused) this.cfg.stats.c.reusedRequests++;
      this.answered++;
      if (!this.cfg.consume) this.settle(st, null);
    } else if (!endStream)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `trailers on stream ${id} without END_STREAM`);
    if (endStream) this.endStream(st);
  }

  private dataBegin(id: number, flags: number, len: number): void {
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    if (flags & Flag.PADDED && len === 0) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PADDED DATA of 0 bytes');
    // Flow control counts the whole payload, padding included (RFC 9113 §6.9.1).
    this.recvUnacked += len;
    if (this.recvUnacked >= RECV_REFILL) {
      this.windowUpdate0(0, this.recvUnacked);
      this.recvUnacked = 0;
    }
    const st = this.streams.get(id);
    if (st !== undefined) {
      if (st.status === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, `DATA before the response on stream ${id}`);
      // An unread body (--no-consume-body) gets no WINDOW_UPDATE: its stream stalls at the default window.
      if (this.cfg.consume && (flags & Flag.END_STREAM) === 0) {
        st.recv += len;
        if (st.recv >= RECV_REFILL) {
          this.windowUpdate0(id, st.recv);
          st.recv = 0;
        }
      }
    } else if ((id & 1) === 0 || id >= this.nextId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on stream ${id}, which we never opened`);
    this.dataStream = id;
    this.dataFlags = flags;
  }

  private dataEnd(): void {
    if ((this.dataFlags & Flag.END_STREAM) === 0) return;
    const st = this.streams.get(this.dataStream);
    if (st !== undefined) this.endStream(st);
  }

  private windowUpdate0(id: number, increment: number): void {
    const at = this.reserve(FRAME_HEADER + 4);
    frameHeader(this.out, at, 4, FrameType.WINDOW_UPDATE, 0, id);
    this.out.writeUInt32BE(increment, at + FRAME_HEADER);
  }

  private settings(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (e !== s) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((e - s) % 6 !== 0) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS not a multiple of 6 bytes');
    let maxStreams = this.settingsSeen ? this.peerMaxStreams : Number.POSITIVE_INFINITY;
    for (let p = s; p < e; p += 6) {
      const key = buf.readUInt16BE(p);
      const v = buf.readUInt32BE(p + 2);
      if (key === Setting.MAX_CONCURRENT_STREAMS) maxStreams = v;
      else if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (v > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, `INITIAL_WINDOW_SIZE ${v}`);
        const delta = v - this.peerInitialWindow;
        this.peerInitialWindow = v;
        for (const st of this.streams.values()) st.sendWindow += delta;
      } else if (key === Setting.MAX_FRAME_SIZE) {
        if (v < DEFAULT_MAX_FRAME || v > 0xffffff)
          throw connectionError(ErrorCode.PROTOCOL_ERROR, `MAX_FRAME_SIZE ${v}`);
        this.peerMaxFrame = v;
      } else if (key === Setting.ENABLE_PUSH && v > 1)
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `ENABLE_PUSH ${v}`);
    }
    if (!this.settingsSeen) this.firstIdAfterSettings = this.nextId;
    this.settingsSeen = true;
    this.peerMaxStreams = maxStreams;
    const c = this.cfg.counters;
    if (Number.isFinite(maxStreams) && (c.peerMaxStreams === 0 || maxStreams < c.peerMaxStreams))
      c.peerMaxStreams = maxStreams;
    const at = this.reserve(FRAME_HEADER);
    frameHeader(this.out, at, 0, FrameType.SETTINGS, Flag.ACK, 0);
    this.unblock();
    this.pump();
  }

  private windowUpdate(id: number, buf: Buffer, s: number, e: number): void {
    if (e - s !== 4) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of other than 4 bytes');
    const inc = buf.readUInt32BE(s) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW)
        throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      this.unblock();
      return;
    }
    const st = this.streams.get(id);
    if (st === undefined) return;
    if (inc === 0 || st.sendWindow + inc > MAX_WINDOW) {
      const code = inc === 0 ? ErrorCode.PROTOCOL_ERROR : ErrorCode.FLOW_CONTROL_ERROR;
      this.append(rstStreamFrame(id, code));
      this.drop(st, streamError(code, `${id} got a bad WINDOW_UPDATE: reset`));
      return;
    }
    st.sendWindow += inc;
    if (this.blocked.has(st)) this.unblock();
  }

  private rstStream(id: number, buf: Buffer, s: number, e: number): void {
    if (e - s !== 4) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM of other than 4 bytes');
    this.checkStreamId(id, 'RST_STREAM');
    const st = this.streams.get(id);
    if (st === undefined) return;
    const code = buf.readUInt32BE(s);
    // Refused before we knew the server's limit (opened before its SETTINGS): never processed,
    // sent again (RFC 9113 §8.7). At most the streams opened before SETTINGS, so never a loop.
    if (code === ErrorCode.REFUSED_STREAM && id < this.firstIdAfterSettings && st.done !== null) {
      const done = st.done;
      st.done = null;
      this.drop(st, null);
      this.cfg.retry(this.slot, done);
      return;
    }
    this.drop(st, streamError(code, `${id} was reset by the server`));
  }

  /**
   * GOAWAY: no new streams here. Streams above `last` were never processed: they go back to
   * the engine as new requests on a new session (if this one answered anything; a server
   * that refuses every stream would otherwise be retried forever), queued ones too.
   */
  private goaway(last: number, code: number): void {
    this.unusable = true;
    const retry = this.answered > 0;
    const back: Done[] = [];
    for (const st of this.streams.values()) {
      if (st.id <= last) continue;
      this.streams.delete(st.id);
      this.blocked.delete(st);
      if (st.done !== null) back.push(st.done);
    }
    back.push(...this.queue);
    this.queue.length = 0;
    this.queueT0.length = 0;
    const err = streamError(code, 'refused by GOAWAY');
    for (const d of back) {
      if (retry) this.cfg.retry(this.slot, d);
      else d(err, 0);
    }
    if (this.streams.size === 0) this.end();
  }

  // ------------------------------------------------------------ streams ending

  private endStream(st: Stream): void {
    this.streams.delete(st.id);
    this.blocked.delete(st);
    this.pump();
    if (st.done !== null) this.settle(st, null);
    if (this.unusable && this.streams.size === 0 && this.queue.length === 0 && !this.dead) this.end();
  }

  /** A stream that failed alone (RST_STREAM, a bad WINDOW_UPDATE): the session goes on. */
  private drop(st: Stream, err: Error | null): void {
    this.streams.delete(st.id);
    this.blocked.delete(st);
    this.pump();
    if (st.done !== null && err !== null) this.settle(st, err);
  }

  private settle(st: Stream, err: Error | null): void {
    const d = st.done!;
    st.done = null;
    d(err, err === null ? st.status : 0);
  }

  /** Queued requests take the streams that freed up. */
  private pump(): void {
    if (this.unusable) return;
    while (this.queue.length > 0 && this.streams.size < this.limit()) {
      const d = this.queue.shift()!;
      const t0 = this.queueT0.shift()!;
      this.open(d, t0);
    }
  }

  /** A connection error: GOAWAY with its code (when `tell`), every request fails with `err`, the socket goes. */
  private fatal(err: Error, tell: boolean): void {
    if (this.dead) return;
    const code = (err as { h2Code?: number }).h2Code;
    if (tell && code !== undefined) {
      this.append(goawayFrame(0, code));
      this.flush();
    }
    this.failAll(err, false);
    this.socket.destroySoon();
  }

  /** The socket ended, failed or closed: requests still on it fail (queued ones never left: retried if the session had worked). */
  private gone(err: Error | null): void {
    if (this.dead) return;
    // No error: the server's FIN ('end', then 'close'); a RST arrives as an ECONNRESET 'error'.
    this.failAll(
      err ?? peerClosedError('the server closed the connection (FIN) with streams in flight'),
      this.answered > 0,
    );
    this.socket.destroy();
  }

  private failAll(err: Error, retryQueued: boolean): void {
    this.dead = true;
    this.unusable = true;
    const list: Done[] = [];
    for (const st of this.streams.values()) if (st.done !== null) list.push(st.done);
    this.streams.clear();
    this.blocked.clear();
    const queued = this.queue.splice(0);
    this.queueT0.length = 0;
    for (const d of list) d(err, 0);
    for (const d of queued) {
      if (retryQueued) this.cfg.retry(this.slot, d);
      else d(err, 0);
    }
  }
}
