import { describe, expect, it } from 'vitest';
import { LatencyHistogram, mergeEncoded } from '../src/index.js';

describe('LatencyHistogram', () => {
  it('merges encoded per-worker histograms into the same percentiles as one histogram', () => {
    const all = new LatencyHistogram();
    const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    for (let i = 1; i <= 30_000; i++) {
      all.recordUs(i);
      parts[i % 3]!.recordUs(i);
    }
    const merged = mergeEncoded(parts.map((p) => p.encode()));
    expect(merged.count).toBe(30_000);
    expect(merged.summaryMs()).toEqual(all.summaryMs());
    expect(merged.summaryMs().p50).toBeCloseTo(15, 1);
    expect(merged.summaryMs().max).toBeCloseTo(30, 1);
  });

  it('back-fills samples hidden by coordinated omission', () => {
    const h = new LatencyHistogram();
    // One 100 ms stall in a stream meant to send every 1 ms: ~99 more samples are implied.
    h.recordUsCorrected(100_000, 1_000);
    expect(h.count).toBe(100);
    expect(h.summaryMs().p50).toBeGreaterThan(40);
  });

  it('summarises an empty histogram as zeros', () => {
    expect(new LatencyHistogram().summaryMs()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});
