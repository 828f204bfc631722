import { describe, expect, it } from 'vitest';
import { delayUs } from '../src/response-delay.js';

const measure = (us: number) =>
  new Promise<number>((resolve) => {
    const t0 = process.hrtime.bigint();
    delayUs(us, () => resolve(Number(process.hrtime.bigint() - t0) / 1000));
  });

describe('delayUs', () => {
  it('never ends early, below and above a millisecond', async () => {
    for (const us of [50, 400, 1500, 5000]) expect(await measure(us)).toBeGreaterThanOrEqual(us);
  });

  it('0 answers synchronously', () => {
    let called = false;
    delayUs(0, () => {
      called = true;
    });
    expect(called).toBe(true);
  });

  it('keeps the event loop free while waiting', async () => {
    let ticks = 0;
    const spin = setInterval(() => ticks++, 1);
    await measure(20_000);
    clearInterval(spin);
    expect(ticks).toBeGreaterThan(3);
  });
});
