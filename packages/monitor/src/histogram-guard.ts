import { inflateSync } from 'node:zlib';
import { LatencyHistogram, ProtocolError } from '@kalab/core';

/** Decoded counts payloads larger than this are refused (a deflate bomb would be far larger). */
const MAX_INFLATED_BYTES = 4 * 1024 * 1024;
/** The lab records microseconds up to 10 min; allow generous headroom, refuse absurd ranges. */
const MAX_HIGHEST_TRACKABLE = 2 ** 40;
/** V2 encoding header: cookie, payload length, normalizing offset, digits, lowest, highest, ratio. */
const HEADER_BYTES = 40;

/** Inflates a source's HdrHistogram (compressed base64) and checks its header; throws ProtocolError. */
function inflateChecked(encoded: string): { raw: Buffer; digits: number; lowest: bigint; highest: bigint } {
  const buf = Buffer.from(encoded, 'base64');
  if (buf.length < 8) throw new ProtocolError('histogram: too short');
  const len = buf.readInt32BE(4);
  if (len <= 0 || len > buf.length - 8) throw new ProtocolError('histogram: bad compressed length');
  let raw: Buffer;
  try {
    raw = inflateSync(buf.subarray(8, 8 + len), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    throw new ProtocolError('histogram: payload does not inflate within bounds');
  }
  if (raw.length < HEADER_BYTES) throw new ProtocolError('histogram: header too short');
  const digits = raw.readInt32BE(12);
  const lowest = raw.readBigInt64BE(16);
  const highest = raw.readBigInt64BE(24);
  if (digits < 1 || digits > 5 || lowest < 1n || highest < lowest || highest > BigInt(MAX_HIGHEST_TRACKABLE)) {
    throw new ProtocolError('histogram: range or precision out of bounds');
  }
  return { raw, digits, lowest, highest };
}

/**
 * Decodes a source's HdrHistogram (compressed base64) after checking its header, so a hostile
 * source cannot make the hub inflate a bomb or allocate a histogram spanning 2^63 at 5 digits.
 * Throws ProtocolError (the hub closes that source with 1008).
 */
export function decodeHistogram(encoded: string): LatencyHistogram {
  inflateChecked(encoded);
  try {
    return LatencyHistogram.decode(encoded);
  } catch (err) {
    throw new ProtocolError(`histogram: ${(err as Error).message}`);
  }
}

/** The non-zero buckets of a histogram laid out like the one it will be added to. */
export interface BucketCounts {
  indexes: number[];
  counts: number[];
}

/** What JsHistogram keeps that adding buckets touches (hdr-histogram-js's own add() uses the same). */
interface JsHistogramInternals {
  numberOfSignificantValueDigits: number;
  lowestDiscernibleValue: number;
  highestTrackableValue: number;
  countsArrayLength: number;
  totalCount: number;
  maxValue: number;
  minNonZeroValue: number;
  addToCountAtIndex(index: number, value: number): void;
  setTotalCount(total: number): void;
  updatedMaxValue(value: number): void;
  updateMinNonZeroValue(value: number): void;
  valueFromIndex(index: number): number;
  highestEquivalentValue(value: number): number;
}

const internals = (h: LatencyHistogram) => h.h as unknown as JsHistogramInternals;

/**
 * A tick's interval histogram, checked like decodeHistogram, decoded for adding into `like`
 * (a source's running histogram). When it has `like`'s layout (every lab source's does) only
 * its non-zero buckets are kept: a tick then costs no 86 KB counts array (64 sources sent
 * 5.5 MB of them a second to the garbage collector). Another layout decodes in full.
 */
export function decodeForMerge(encoded: string, like: LatencyHistogram): BucketCounts | LatencyHistogram {
  const { raw, digits, lowest, highest } = inflateChecked(encoded);
  const h = internals(like);
  if (
    digits !== h.numberOfSignificantValueDigits ||
    lowest !== BigInt(h.lowestDiscernibleValue) ||
    highest !== BigInt(h.highestTrackableValue)
  ) {
    try {
      return LatencyHistogram.decode(encoded);
    } catch (err) {
      throw new ProtocolError(`histogram: ${(err as Error).message}`);
    }
  }
  const end = HEADER_BYTES + raw.readInt32BE(4);
  if (end < HEADER_BYTES || end > raw.length) throw new ProtocolError('histogram: bad payload length');
  const out: BucketCounts = { indexes: [], counts: [] };
  let pos = HEADER_BYTES;
  let index = 0;
  while (pos < end) {
    // ZigZag LEB128, read as hdr-histogram-js reads it: 7 bits a byte, at most 9 bytes.
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      if (pos >= end) throw new ProtocolError('histogram: truncated count');
      const b = raw[pos++]!;
      v += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    const n = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    if (n < 0) {
      index -= n;
      continue;
    }
    if (index >= h.countsArrayLength) throw new ProtocolError('histogram: counts past its range');
    if (n > 0) {
      out.indexes.push(index);
      out.counts.push(n);
    }
    index++;
  }
  return out;
}

/** Adds what decodeForMerge gave into `into`, as `into.merge(decoded histogram)` would. */
export function mergeDecoded(into: LatencyHistogram, d: BucketCounts | LatencyHistogram): void {
  if (d instanceof LatencyHistogram) {
    into.merge(d);
    return;
  }
  if (d.indexes.length === 0) return;
  const h = internals(into);
  let total = 0;
  let minNonZeroIndex = -1;
  for (let i = 0; i < d.indexes.length; i++) {
    const index = d.indexes[i]!;
    h.addToCountAtIndex(index, d.counts[i]!);
    total += d.counts[i]!;
    if (minNonZeroIndex === -1 && index !== 0) minNonZeroIndex = index;
  }
  const maxIndex = d.indexes[d.indexes.length - 1]!;
  h.setTotalCount(h.totalCount + total);
  h.updatedMaxValue(Math.max(h.maxValue, h.highestEquivalentValue(h.valueFromIndex(maxIndex))));
  if (minNonZeroIndex >= 0) h.updateMinNonZeroValue(Math.min(h.minNonZeroValue, h.valueFromIndex(minNonZeroIndex)));
}
