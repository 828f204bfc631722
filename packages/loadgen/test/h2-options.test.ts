import { describe, expect, it } from 'vitest';
import { DEFAULTS, LIMITS } from '../src/defaults.js';
import { optionsFromFlags, resolveOptions } from '../src/options.js';

const T = 'http://127.0.0.1:8080/';

function flagOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { option?: string }).option;
  }
  return undefined;
}

describe('--streams (h2: concurrent streams per session)', () => {
  it('defaults to 100 for h2 and h2c, and is null for the HTTP/1 engines', () => {
    expect(DEFAULTS.h2Streams).toBe(100);
    expect(resolveOptions({ target: T, engine: 'h2' }).streams).toBe(100);
    expect(resolveOptions({ target: T, engine: 'h2c', streams: 8 }).streams).toBe(8);
    expect(resolveOptions({ target: T, engine: 'net' }).streams).toBeNull();
  });

  it('-c is sessions: h2 -c 4 -w 2 runs 4 sessions on 2 workers', () => {
    const o = resolveOptions({ target: T, engine: 'h2', connections: 4, workers: 2 });
    expect(o.connections).toBe(4);
    expect(o.workers).toBe(2);
  });

  it('is refused (exit 2 naming --streams) with another engine, below 1 or above the limit', () => {
    expect(flagOf(() => resolveOptions({ target: T, engine: 'net', streams: 10 }))).toBe('--streams');
    expect(flagOf(() => resolveOptions({ target: T, engine: 'h2', streams: 0 }))).toBe('--streams');
    expect(flagOf(() => resolveOptions({ target: T, engine: 'h2', streams: LIMITS.streams.max + 1 }))).toBe(
      '--streams',
    );
    expect(flagOf(() => optionsFromFlags(T, { engine: 'h2', streams: 'x' }))).toBe('--streams');
    expect(optionsFromFlags(T, { engine: 'h2', streams: '250' }).streams).toBe(250);
  });
});
