import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in microseconds, from 1 µs to 10 min, 3 significant digits. */
const LOWEST_US = 1;
const HIGHEST_US = 600_000_000;

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

  static decode(encoded: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(encoded, 32, false));
  }

  /** Percentiles in milliseconds, rounded to the microsecond. An empty histogram summarises as zeros. */
  summaryMs(): LatencySummaryMs {
    const h = this.h;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      mean: ms(h.mean),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      // Bucket-equivalent max, so a decoded (merged) histogram reports the same value as the original.
      max: ms(h.getValueAtPercentile(100)),
    };
  }
}

function clampUs(us: number): number {
  if (!(us >= LOWEST_US)) return LOWEST_US;
  if (us > HIGHEST_US) return HIGHEST_US;
  return Math.round(us);
}
