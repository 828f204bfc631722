import { describe, expect, it } from 'vitest';
import { CounterRate, RateWindow, RingBuffer } from '../src/index.js';

describe('RingBuffer', () => {
  it('keeps only the newest entries, oldest first', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.length).toBe(3);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.toArray(2)).toEqual([4, 5]);
    expect(r.last()).toBe(5);
  });
});

describe('RateWindow', () => {
  it('reports events of the last complete second and the mean over the window', () => {
    let now = 10_000;
    const w = new RateWindow(5, () => now);
    w.add(3);
    now += 1000;
    w.add(7);
    now += 1000;
    expect(w.lastSecond()).toBe(7);
    expect(w.rate(2)).toBe(5);
    expect(w.count).toBe(10);
  });
});

describe('CounterRate', () => {
  it('turns counter readings into a per-second rate', () => {
    let now = 0;
    const r = new CounterRate(() => now);
    expect(r.update(100)).toBe(0);
    now = 500;
    expect(r.update(150)).toBe(100);
  });
});
