import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../src/index.js';

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
