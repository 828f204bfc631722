import { describe, expect, it } from 'vitest';
import { CounterRate } from '../src/index.js';

describe('CounterRate', () => {
  it('turns counter readings into a per-second rate', () => {
    let now = 0;
    const r = new CounterRate(() => now);
    expect(r.update(100)).toBe(0);
    now = 500;
    expect(r.update(150)).toBe(100);
  });
});
