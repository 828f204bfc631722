import { describe, expect, it } from 'vitest';
import { HostSampler } from '../src/host-sampler.js';

describe('HostSampler', () => {
  it('spaces unforced reads by 20x the last read (at most 5% of the time), a forced read always happens', async () => {
    const s = new HostSampler();
    const first = await s.sample(true);
    expect(first).not.toBeNull();
    expect(first!.ephemeral).not.toBeNull();
    // Right after a read, an unforced sample is skipped: the table is not read again.
    expect(await s.sample()).toBeNull();
    const forced = await s.sample(true);
    expect(forced).not.toBeNull();
    expect(forced!.at).toBeGreaterThanOrEqual(first!.at);
    // After waiting well past 20x a read of this small table, an unforced sample reads again.
    const t0 = performance.now();
    await s.sample(true);
    const took = performance.now() - t0;
    await new Promise((r) => setTimeout(r, Math.ceil(took * 25) + 5));
    expect(await s.sample()).not.toBeNull();
    expect(s.peak.ephemeralRange).not.toBeNull();
  });
});
