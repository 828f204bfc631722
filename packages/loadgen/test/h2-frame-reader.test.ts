import { describe, expect, it } from 'vitest';
import { FrameReader, type FrameSink } from '../src/h2/frame-reader.js';
import { Flag, FrameType, frame } from '../src/h2/frames.js';

/**
 * The h2 frame reader fed the same bytes in every split: whole, at every split point, at every
 * pair of split points, and in random chunks through one reused read buffer (as the session's
 * shared READ_BUFFER). What it hands on must never depend on where the reads broke, including
 * the state a read leaves for the next one: a partial frame header or frame (`rest`), DATA
 * payload still to come (`dataLeft`), a DATA frame's pad length not read yet (`padPending`).
 */
type Event =
  | ['start', number]
  | ['frame', number, number, number, string]
  | ['data', number, number, number]
  | ['dataEnd'];

function recorder(live: () => boolean = () => true): { reader: FrameReader; events: Event[] } {
  const events: Event[] = [];
  const sink: FrameSink = {
    frameStart: (type) => events.push(['start', type]),
    frame: (type, flags, id, buf, s, e) => events.push(['frame', type, flags, id, buf.toString('hex', s, e)]),
    dataBegin: (id, flags, len) => events.push(['data', id, flags, len]),
    dataEnd: () => events.push(['dataEnd']),
  };
  return { reader: new FrameReader(sink, live), events };
}

const bytes = (...b: number[]) => Buffer.from(b);

/** Padded DATA: pad length, payload, padding. */
function padded(pad: number, payload: Buffer): Buffer {
  return Buffer.concat([bytes(pad), payload, Buffer.alloc(pad)]);
}

/** Every kind of frame the session reads, with the cases that cross reads: padding, 0-byte DATA, a header block in two frames. */
const FRAMES: Array<[Buffer, Event[]]> = [
  [
    frame(FrameType.SETTINGS, 0, 0, bytes(0, 3, 0, 0, 0, 100)),
    [
      ['start', 4],
      ['frame', 4, 0, 0, '000300000064'],
    ],
  ],
  [
    frame(FrameType.HEADERS, 0, 1, bytes(0x88, 0x40)),
    [
      ['start', 1],
      ['frame', 1, 0, 1, '8840'],
    ],
  ],
  [
    frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, bytes(0x01)),
    [
      ['start', 9],
      ['frame', 9, 4, 1, '01'],
    ],
  ],
  [
    frame(FrameType.DATA, Flag.PADDED, 1, padded(3, Buffer.from('abcdef'))),
    [['start', 0], ['data', 1, 8, 10], ['dataEnd']],
  ],
  [frame(FrameType.DATA, 0, 1, Buffer.from('12345')), [['start', 0], ['data', 1, 0, 5], ['dataEnd']]],
  [frame(FrameType.DATA, Flag.END_STREAM, 3), [['start', 0], ['data', 3, 1, 0], ['dataEnd']]],
  [
    frame(FrameType.PING, 0, 0, bytes(1, 2, 3, 4, 5, 6, 7, 8)),
    [
      ['start', 6],
      ['frame', 6, 0, 0, '0102030405060708'],
    ],
  ],
  [
    frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, padded(0, Buffer.from('xyz'))),
    [['start', 0], ['data', 1, 9, 4], ['dataEnd']],
  ],
  [
    frame(FrameType.WINDOW_UPDATE, 0, 0, bytes(0, 0, 1, 0)),
    [
      ['start', 8],
      ['frame', 8, 0, 0, '00000100'],
    ],
  ],
  [
    frame(0xee, 0, 0),
    [
      ['start', 0xee],
      ['frame', 0xee, 0, 0, ''],
    ],
  ],
];
const STREAM = Buffer.concat(FRAMES.map(([b]) => b));
const EXPECTED = FRAMES.flatMap(([, e]) => e);

/** Feeds `chunks` through one reused read buffer, overwritten after each read. */
function feed(chunks: Buffer[]): { events: Event[]; pending: number } {
  const { reader, events } = recorder();
  const shared = Buffer.alloc(STREAM.length + 16_384 + 64);
  for (const c of chunks) {
    c.copy(shared);
    reader.push(shared.subarray(0, c.length));
    shared.fill(0xaa);
  }
  return { events, pending: reader.pending };
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

/** A small seeded PRNG (mulberry32): the random chunkings are the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const reasonOf = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { reason?: string }).reason;
  }
  return undefined;
};

describe('h2 frame reader: the same frames whatever the reads', () => {
  it(`reads the ${STREAM.length}-byte stream in one read: ${EXPECTED.length} events, nothing pending`, () => {
    expect(feed([STREAM])).toEqual({ events: EXPECTED, pending: 0 });
  });

  it('every split point into two reads, and one byte per read', () => {
    for (let i = 0; i <= STREAM.length; i++)
      expect(feed(splitAt(STREAM, [i]))).toEqual({ events: EXPECTED, pending: 0 });
    const single = Array.from({ length: STREAM.length }, (_, i) => STREAM.subarray(i, i + 1));
    expect(feed(single)).toEqual({ events: EXPECTED, pending: 0 });
  });

  it('every pair of split points into three reads', () => {
    for (let i = 1; i < STREAM.length; i++)
      for (let j = i; j < STREAM.length; j++) expect(feed(splitAt(STREAM, [i, j])).events).toEqual(EXPECTED);
  });

  it('500 random chunkings of the stream with a 16 KiB DATA frame in the middle', () => {
    const big = frame(FrameType.DATA, 0, 5, Buffer.alloc(16_384, 7));
    const half = FRAMES.length >> 1;
    const stream = Buffer.concat([
      ...FRAMES.slice(0, half).map(([b]) => b),
      big,
      ...FRAMES.slice(half).map(([b]) => b),
    ]);
    const expected = [
      ...FRAMES.slice(0, half).flatMap(([, e]) => e),
      ['start', 0],
      ['data', 5, 0, 16_384],
      ['dataEnd'],
      ...FRAMES.slice(half).flatMap(([, e]) => e),
    ];
    const rand = prng(20);
    for (let run = 0; run < 500; run++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = 1 + Math.floor(rand() * (rand() < 0.2 ? 4096 : 40));
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(feed(chunks)).toEqual({ events: expected, pending: 0 });
    }
  });

  it('keeps what a read leaves for the next: a partial header, DATA still to come, the pad length', () => {
    const { reader, events } = recorder();
    const data = frame(FrameType.DATA, Flag.PADDED, 1, padded(2, Buffer.from('hello')));
    reader.push(data.subarray(0, 5));
    expect(reader.pending).toBe(5);
    expect(events).toEqual([]);
    // The header is whole: the frame begins; its 8 payload bytes (pad length first) are still to come.
    reader.push(data.subarray(5, 9));
    expect(events).toEqual([
      ['start', 0],
      ['data', 1, 8, 8],
    ]);
    expect(reader.pending).toBe(8);
    reader.push(data.subarray(9, 12));
    expect(reader.pending).toBe(5);
    reader.push(data.subarray(12));
    expect(reader.pending).toBe(0);
    expect(events.at(-1)).toEqual(['dataEnd']);
  });

  it('padding longer than its DATA frame is a PROTOCOL_ERROR, whichever read brings the pad length', () => {
    const bad = frame(FrameType.DATA, Flag.PADDED, 1, bytes(4, 1, 2, 3));
    for (let i = 0; i <= bad.length; i++) {
      const { reader } = recorder();
      expect(
        reasonOf(() => {
          for (const c of splitAt(bad, [i])) reader.push(c);
        }),
      ).toBe('H2_PROTOCOL_ERROR');
    }
    // A pad length of len - 1 fills the frame exactly: allowed.
    expect(feed([frame(FrameType.DATA, Flag.PADDED, 1, bytes(3, 0, 0, 0))]).pending).toBe(0);
  });

  it('a frame above 16384 bytes is a FRAME_SIZE_ERROR as soon as its header is read', () => {
    const header = frame(FrameType.HEADERS, 0, 1).subarray(0, 9);
    header.writeUIntBE(16_385, 0, 3);
    for (let i = 0; i <= header.length; i++) {
      const { reader, events } = recorder();
      expect(
        reasonOf(() => {
          for (const c of splitAt(header, [i])) reader.push(c);
        }),
      ).toBe('H2_FRAME_SIZE_ERROR');
      expect(events).toEqual([]);
    }
  });

  it('stops mid-read once the session is gone, and keeps nothing', () => {
    let live = true;
    const { reader, events } = recorder(() => live);
    const stop: FrameSink = {
      frameStart: () => {},
      frame: () => {
        live = false;
      },
      dataBegin: () => {},
      dataEnd: () => {},
    };
    const r = new FrameReader(stop, () => live);
    r.push(STREAM);
    expect(r.pending).toBe(0);
    live = true;
    reader.push(STREAM.subarray(0, 20));
    live = false;
    reader.push(STREAM.subarray(20));
    expect(events).toEqual(EXPECTED.slice(0, 2));
    expect(reader.pending).toBe(0);
  });
});
