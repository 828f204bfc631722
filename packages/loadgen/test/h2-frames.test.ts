import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDialer } from '../src/dial.js';
import { requestFields } from '../src/engine-h2c.js';
import {
  ErrorCode,
  Flag,
  FrameType,
  frame,
  goawayFrame,
  headersTemplate,
  rstStreamFrame,
  settingsFrame,
} from '../src/h2/frames.js';
import { encodeRequestBlock } from '../src/h2/hpack.js';
import { H2Session } from '../src/h2/session.js';
import { requestShape } from '../src/request-shape.js';
import { WorkerStats } from '../src/worker-stats.js';
import { runH2 } from './h2-support.js';

/**
 * A scripted HTTP/2 server on a raw socket: it reads the client's preface and frames and
 * answers each request stream as the test says, byte for byte, so every frame the engine
 * must handle (padding, priority, CONTINUATION, trailers, PING, RST_STREAM, GOAWAY, a bad
 * frame) is sent exactly once where the test wants it.
 */
interface Conn {
  sock: Socket;
  send: (type: number, flags: number, stream: number, payload?: Buffer) => void;
  /** Frames the client sent, by type name. */
  received: Array<{ type: number; flags: number; stream: number; payload: Buffer }>;
  /** Request streams seen on this connection, in order. */
  streams: number[];
}

let server: Server | null = null;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

async function scripted(o: {
  settings?: Array<[number, number]>;
  onConnect?: (c: Conn) => void;
  onStream: (c: Conn, id: number) => void;
  onFrame?: (c: Conn, type: number, flags: number, stream: number, payload: Buffer) => void;
}): Promise<{ url: string; conns: Conn[] }> {
  const conns: Conn[] = [];
  server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    const c: Conn = {
      sock,
      received: [],
      streams: [],
      send: (type, flags, stream, payload = Buffer.alloc(0)) => {
        if (!sock.destroyed) sock.write(frame(type, flags, stream, payload));
      },
    };
    conns.push(c);
    sock.write(settingsFrame(o.settings ?? []));
    o.onConnect?.(c);
    let buf = Buffer.alloc(0);
    let preface = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!preface) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        preface = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = Buffer.from(buf.subarray(9, 9 + len));
        buf = buf.subarray(9 + len);
        c.received.push({ type, flags, stream, payload });
        if (type === FrameType.SETTINGS && (flags & Flag.ACK) === 0) c.send(FrameType.SETTINGS, Flag.ACK, 0);
        o.onFrame?.(c, type, flags, stream, payload);
        // A request: its HEADERS with END_STREAM (no body), or its last DATA.
        if ((type === FrameType.HEADERS || type === FrameType.DATA) && flags & Flag.END_STREAM) {
          c.streams.push(stream);
          o.onStream(c, stream);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`, conns };
}

const OK = Buffer.from([0x88]); // :status 200, static index 8
const hello = Buffer.from('hello');

describe('the h2 engine reads every frame the server may send', () => {
  it('padded + priority HEADERS split over CONTINUATION, padded DATA, trailers and a PING: 20 ok on 1 connection, PING acked', async () => {
    // A dynamic-table insertion (literal with incremental indexing, Huffman-free) spread over two frames.
    const block = Buffer.concat([
      OK,
      Buffer.from([0x40, 5]),
      Buffer.from('x-big'),
      Buffer.from([100]),
      Buffer.alloc(100, 'v'),
    ]);
    const srv = await scripted({
      onConnect: (c) => c.send(FrameType.PING, 0, 0, Buffer.from('12345678')),
      onStream: (c, id) => {
        const first = Buffer.concat([
          Buffer.from([4]),
          Buffer.from([0, 0, 0, 0, 16]),
          block.subarray(0, 20),
          Buffer.alloc(4),
        ]);
        c.send(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, id, first);
        c.send(FrameType.CONTINUATION, 0, id, block.subarray(20, 60));
        c.send(FrameType.CONTINUATION, Flag.END_HEADERS, id, block.subarray(60));
        c.send(FrameType.DATA, Flag.PADDED, id, Buffer.concat([Buffer.from([3]), hello, Buffer.alloc(3)]));
        // Trailers: x-trailer: 1 (literal without indexing, new name), and the block's end.
        const trailers = Buffer.concat([
          Buffer.from([0x00, 9]),
          Buffer.from('x-trailer'),
          Buffer.from([1]),
          Buffer.from('1'),
        ]);
        c.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, trailers);
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 4, requests: 20 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 20, failed: 0, opened: 1, reusedRequests: 19 });
    const pings = srv.conns[0]!.received.filter((f) => f.type === FrameType.PING);
    expect(pings.map((p) => [p.flags, p.payload.toString()])).toEqual([[Flag.ACK, '12345678']]);
  });

  it('RST_STREAM fails that stream alone, by its code: 5 of 10 reset with INTERNAL_ERROR, 5 ok, 1 connection', async () => {
    let n = 0;
    const srv = await scripted({
      onStream: (c, id) => {
        if (n++ % 2 === 1) c.sock.write(rstStreamFrame(id, ErrorCode.INTERNAL_ERROR));
        else {
          c.send(FrameType.HEADERS, Flag.END_HEADERS, id, OK);
          c.send(FrameType.DATA, Flag.END_STREAM, id, hello);
        }
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 1, requests: 10 });
    expect(r.c).toMatchObject({ ok: 5, failed: 5, opened: 1 });
    expect(r.errors).toEqual({ H2_INTERNAL_ERROR: 5 });
  });

  it('a bad frame (SETTINGS of 5 bytes) fails the session: KALAB_ERR_HTTP_PARSE for its 5 streams, GOAWAY FRAME_SIZE_ERROR sent', async () => {
    const srv = await scripted({
      onStream: (c) => {
        if (c.streams.length === 5) c.send(FrameType.SETTINGS, 0, 0, Buffer.alloc(5));
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 5, requests: 5 });
    expect(r.c).toMatchObject({ ok: 0, failed: 5, opened: 1 });
    expect(r.errors).toEqual({ KALAB_ERR_HTTP_PARSE: 5 });
    await new Promise((r) => setTimeout(r, 50));
    const goaway = srv.conns[0]!.received.find((f) => f.type === FrameType.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it('GOAWAY: streams above its last stream id are sent again on a new session; 3 answered per session -> -n 10 opens 4', async () => {
    const srv = await scripted({
      onStream: (c, id) => {
        const k = c.streams.length;
        if (k <= 3) {
          c.send(FrameType.HEADERS, Flag.END_HEADERS, id, OK);
          c.send(FrameType.DATA, Flag.END_STREAM, id, hello);
        }
        if (k === 3) c.sock.write(goawayFrame(id, ErrorCode.NO_ERROR));
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 5, requests: 10 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ sent: 10, ok: 10, failed: 0, opened: 4 });
    expect(srv.conns).toHaveLength(4);
    // Every session answered its first 3 streams: 10 = 3 + 3 + 3 + 1.
    expect(srv.conns.map((c) => Math.min(c.streams.length, 3))).toEqual([3, 3, 3, 1]);
  });

  it('MAX_CONCURRENT_STREAMS 2 with --streams 10: streams refused before SETTINGS are sent again, never more than 2 answered at once', async () => {
    let open = 0;
    let peak = 0;
    const srv = await scripted({
      settings: [[0x3, 2]],
      onStream: (c, id) => {
        if (open >= 2) {
          c.sock.write(rstStreamFrame(id, ErrorCode.REFUSED_STREAM));
          return;
        }
        open++;
        peak = Math.max(peak, open);
        setTimeout(() => {
          open--;
          c.send(FrameType.HEADERS, Flag.END_HEADERS, id, OK);
          c.send(FrameType.DATA, Flag.END_STREAM, id, hello);
        }, 2);
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 10, requests: 30 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 30, failed: 0, opened: 1, peerMaxStreams: 2 });
    expect(peak).toBe(2);
  });

  it('a REFUSED_STREAM after SETTINGS is a failure (never retried in a loop)', async () => {
    const srv = await scripted({
      onStream: (c, id) => {
        if (c.streams.length > 3) c.sock.write(rstStreamFrame(id, ErrorCode.REFUSED_STREAM));
        else {
          c.send(FrameType.HEADERS, Flag.END_HEADERS, id, OK);
          c.send(FrameType.DATA, Flag.END_STREAM, id, hello);
        }
      },
    });
    const r = await runH2({ target: srv.url, connections: 1, streams: 1, requests: 10 });
    expect(r.c).toMatchObject({ ok: 3, failed: 7, opened: 1 });
    expect(r.errors).toEqual({ H2_REFUSED_STREAM: 7 });
  });

  it('stream ids near 2^31: the session that used id 2^31-1 takes no more streams (the engine opens a new one)', async () => {
    const srv = await scripted({
      onStream: (c, id) => {
        c.send(FrameType.HEADERS, Flag.END_HEADERS, id, OK);
        c.send(FrameType.DATA, Flag.END_STREAM, id, hello);
      },
    });
    const url = new URL(srv.url);
    const stats = new WorkerStats(0);
    const session = new H2Session(
      {
        dial: createDialer(url, null, stats),
        stats,
        nextLocalAddress: () => undefined,
        template: headersTemplate(encodeRequestBlock(requestFields(requestShape(url, 'GET', [], null), 'http')), true),
        body: null,
        consume: true,
        streams: 10,
        retry: () => {
          throw new Error('nothing should be sent again');
        },
        counters: { streams: 0, peerMaxStreams: 0 },
        firstStreamId: 0x7ffffffb,
      },
      0,
    );
    const statuses: number[] = [];
    const answered = new Promise<void>((resolve) => {
      for (let i = 0; i < 3; i++)
        session.request((err, status) => {
          statuses.push(err ? -1 : status);
          if (statuses.length === 3) resolve();
        });
    });
    expect(session.usable).toBe(false);
    await answered;
    expect(statuses).toEqual([200, 200, 200]);
    expect(srv.conns[0]!.streams).toEqual([0x7ffffffb, 0x7ffffffd, 0x7fffffff]);
    await session.closed;
  });
});
