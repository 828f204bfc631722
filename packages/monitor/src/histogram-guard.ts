import { inflateSync } from 'node:zlib';
import { LatencyHistogram, ProtocolError } from '@kalab/core';

/** Decoded counts payloads larger than this are refused (a deflate bomb would be far larger). */
const MAX_INFLATED_BYTES = 4 * 1024 * 1024;
/** The lab records microseconds up to 10 min; allow generous headroom, refuse absurd ranges. */
const MAX_HIGHEST_TRACKABLE = 2 ** 40;

/**
 * Decodes a source's HdrHistogram (compressed base64) after checking its header, so a hostile
 * source cannot make the hub inflate a bomb or allocate a histogram spanning 2^63 at 5 digits.
 * Throws ProtocolError (the hub closes that source with 1008).
 */
export function decodeHistogram(encoded: string): LatencyHistogram {
  const buf = Buffer.from(encoded, 'base64');
  if (buf.length < 8) throw new ProtocolError('histogram: too short');
  const len = buf.readInt32BE(4);
  if (len <= 0 || len > buf.length - 8) throw new ProtocolError('histogram: bad compressed length');
  let header: Buffer;
  try {
    header = inflateSync(buf.subarray(8, 8 + len), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    throw new ProtocolError('histogram: payload does not inflate within bounds');
  }
  if (header.length < 40) throw new ProtocolError('histogram: header too short');
  const digits = header.readInt32BE(12);
  const lowest = header.readBigInt64BE(16);
  const highest = header.readBigInt64BE(24);
  if (digits < 1 || digits > 5 || lowest < 1n || highest < lowest || highest > BigInt(MAX_HIGHEST_TRACKABLE)) {
    throw new ProtocolError('histogram: range or precision out of bounds');
  }
  try {
    return LatencyHistogram.decode(encoded);
  } catch (err) {
    throw new ProtocolError(`histogram: ${(err as Error).message}`);
  }
}
