import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/index.js';

describe('LatencyHistogram', () => {
  it('merges encoded per-worker histograms into the same percentiles as one histogram', () => {
    const all = new LatencyHistogram();
    const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    for (let i = 1; i <= 30_000; i++) {
      all.recordUs(i);
      parts[i % 3]!.recordUs(i);
    }
    const merged = new LatencyHistogram();
    for (const p of parts) merged.merge(LatencyHistogram.decode(p.encode()));
    expect(merged.count).toBe(30_000);
    expect(merged.summaryMs()).toEqual(all.summaryMs());
    expect(merged.summaryMs().p50).toBeCloseTo(15, 1);
    expect(merged.summaryMs().max).toBeCloseTo(30, 1);
  });

  it('summarises an empty histogram as zeros', () => {
    expect(new LatencyHistogram().summaryMs()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});
