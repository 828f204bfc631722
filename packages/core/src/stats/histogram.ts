import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in microseconds, from 1 µs to 10 min, 3 significant digits. */
const LOWEST_US = 1;
const HIGHEST_US = 600_000_000;
/** HdrHistogram's V2 compressed-encoding cookie, less its word-size nibble. */
const COMPRESSED_COOKIE_BASE = 0x1c849304;

export interface LatencySummaryMs {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * An HDR histogram of durations in microseconds that encodes to a compact base64 string
 * (for worker → main and agent → monitor envelopes) and merges losslessly across them.
 */
export class LatencyHistogram {
  readonly h: hdr.Histogram;

  constructor(from?: hdr.Histogram) {
    this.h =
      from ??
      hdr.build({
        lowestDiscernibleValue: LOWEST_US,
        highestTrackableValue: HIGHEST_US,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
  }

  /** Records one duration in microseconds; values past the range are clamped, not dropped. */
  recordUs(us: number): void {
    this.h.recordValue(clampUs(us));
  }

  get count(): number {
    return this.h.totalCount;
  }

  merge(other: LatencyHistogram): this {
    this.h.add(other.h);
    return this;
  }

  reset(): void {
    this.h.reset();
  }

  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  /**
   * The library's decodeFromCompressedBase64, with Node's base64 and zlib in place of its
   * pure-JS base64-js and pako (5x faster: a fan-out merges 64 agents' full histograms).
   */
  static decode(encoded: string): LatencyHistogram {
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length < 8 || (bytes.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE_BASE)
      throw new Error('not a compressed HdrHistogram (V2 cookie missing)');
    const raw = inflateSync(bytes.subarray(8, 8 + bytes.readInt32BE(4)));
    const decode = (hdr.JsHistogram as unknown as { decode: (b: Uint8Array, bits: number) => hdr.Histogram }).decode;
    return new LatencyHistogram(decode(new Uint8Array(raw.buffer, raw.byteOffset, raw.length), 32));
  }

  /** Percentiles in milliseconds, rounded to the microsecond. An empty histogram summarises as zeros. */
  summaryMs(): LatencySummaryMs {
    const h = this.h;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      mean: ms(meanOf(h)),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      // Bucket-equivalent max, so a decoded (merged) histogram reports the same value as the original.
      max: ms(h.getValueAtPercentile(100)),
    };
  }
}

/** The counts-array view of hdr-histogram-js's JsHistogram (public methods its typings leave out). */
interface CountsView {
  countsArrayLength: number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
  medianEquivalentValue(v: number): number;
}

/**
 * hdr's `mean` (each bucket's median-equivalent value times its count, in index order) in one
 * pass over the counts array: the library walks a value iterator that allocates per step, 10x
 * slower on a full histogram, which a fan-out's merged report pays.
 */
function meanOf(h: hdr.Histogram): number {
  const v = h as unknown as CountsView;
  let total = 0;
  for (let i = 0; i < v.countsArrayLength; i++) {
    const n = v.getCountAtIndex(i);
    if (n > 0) total += v.medianEquivalentValue(v.valueFromIndex(i)) * n;
  }
  return total / h.totalCount;
}

function clampUs(us: number): number {
  if (!(us >= LOWEST_US)) return LOWEST_US;
  if (us > HIGHEST_US) return HIGHEST_US;
  return Math.round(us);
}
