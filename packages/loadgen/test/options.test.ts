import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { defaultTlsResume } from '../src/defaults.js';
import { DEFAULTS, engineThatRuns, LIMITS, optionsFromFlags, resolveOptions, splitSlices } from '../src/index.js';

const T = 'http://127.0.0.1:8080/';

function flagOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadOptionError);
    return (err as BadOptionError).option;
  }
  throw new Error('did not throw');
}

describe('resolveOptions', () => {
  it('fills defaults and applies the default duration bound when neither -n nor -d is given', () => {
    const o = resolveOptions({ target: T });
    expect(o.engine).toBe('net');
    expect(DEFAULTS.engine).toBe('net');
    expect(o.connections).toBe(DEFAULTS.connections);
    expect(o.requests).toBeNull();
    expect(o.durationMs).toBe(DEFAULTS.durationMs);
    expect(o.workers).toBeGreaterThanOrEqual(1);
    expect(o.workers).toBeLessThanOrEqual(o.connections);
  });

  it('never uses more workers than connections (h2: sessions, spread over workers like connections)', () => {
    expect(resolveOptions({ target: T, connections: 2, workers: 8 }).workers).toBe(2);
    expect(resolveOptions({ target: T, engine: 'h2c', connections: 1, workers: 8 }).workers).toBe(1);
    expect(resolveOptions({ target: T, engine: 'h2c', connections: 2, workers: 2 }).workers).toBe(2);
    expect(resolveOptions({ target: T, requests: 10 }).durationMs).toBeNull();
  });

  it('names the flag of every bad option', () => {
    expect(flagOf(() => resolveOptions({ target: 'nope' }))).toBe('URL');
    expect(flagOf(() => resolveOptions({ target: 'ftp://x/' }))).toBe('URL');
    expect(flagOf(() => resolveOptions({ target: T, connections: 0 }))).toBe('-c');
    expect(flagOf(() => resolveOptions({ target: T, engine: 'curl' as never }))).toBe('--engine');
    expect(flagOf(() => resolveOptions({ target: T, durationMs: -1 }))).toBe('-d');
    expect(flagOf(() => resolveOptions({ target: T, rate: 0 }))).toBe('-R');
    expect(flagOf(() => resolveOptions({ target: T, workers: 0 }))).toBe('-w');
    expect(flagOf(() => resolveOptions({ target: T, pipelining: 4, engine: 'http' }))).toBe('-p');
    expect(flagOf(() => resolveOptions({ target: T, localAddresses: ['127.0.0.x'] }))).toBe('--local-address');
    expect(flagOf(() => resolveOptions({ target: T, keepAlive: false, engine: 'h2c' }))).toBe('--no-keepalive');
  });
});

describe('optionsFromFlags', () => {
  it('parses the CLI strings', () => {
    const o = optionsFromFlags(T, {
      connections: '8',
      requests: '100',
      duration: '2',
      rate: '50.5',
      keepalive: false,
      consumeBody: false,
      localAddress: '127.0.0.1, 127.0.0.2',
      maxIdle: '2',
    });
    expect(o).toMatchObject({
      connections: 8,
      requests: 100,
      durationMs: 2000,
      rate: 50.5,
      keepAlive: false,
      consumeBody: false,
      maxIdle: 2,
    });
    expect(o.localAddresses).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(optionsFromFlags(T, { duration: '500ms' }).durationMs).toBe(500);
  });

  it('names the flag', () => {
    expect(flagOf(() => optionsFromFlags(undefined, {}))).toBe('URL');
    expect(flagOf(() => optionsFromFlags(T, { duration: 'abc' }))).toBe('-d');
    expect(flagOf(() => optionsFromFlags(T, { connections: '0' }))).toBe('-c');
    expect(flagOf(() => optionsFromFlags(T, { rate: 'fast' }))).toBe('-R');
  });
});

describe('splitSlices', () => {
  it('splits connections, requests, rate and idle connections across workers, remainders first', () => {
    const s = splitSlices(
      resolveOptions({ target: T, connections: 10, requests: 1001, rate: 300, workers: 3, maxIdle: 2 }),
    );
    expect(s.map((x) => x.connections)).toEqual([4, 3, 3]);
    expect(s.map((x) => x.requests)).toEqual([334, 334, 333]);
    expect(s.map((x) => x.rate)).toEqual([100, 100, 100]);
    expect(s.map((x) => x.maxIdle)).toEqual([1, 1, 0]);
  });
});

describe('one table of limits', () => {
  it('the CLI and the API refuse the same values, with the range of LIMITS and what was typed', () => {
    expect(() => optionsFromFlags(T, { connections: String(LIMITS.connections.max + 1) })).toThrow(
      `-c must be an integer from 1 to ${LIMITS.connections.max}, got "${LIMITS.connections.max + 1}"`,
    );
    expect(() => resolveOptions({ target: T, connections: LIMITS.connections.max + 1 })).toThrow(
      `-c must be an integer from 1 to ${LIMITS.connections.max}`,
    );
    expect(() => optionsFromFlags(T, { duration: '999h' })).toThrow(
      '-d must be a duration from 1ms to 2147483647ms (~24.8 days), got "999h"',
    );
    expect(() => resolveOptions({ target: T, durationMs: LIMITS.durationMs.max + 1 })).toThrow(
      /^-d must be a duration/,
    );
    expect(() => optionsFromFlags(T, { timeout: '99999h' })).toThrow(
      '--timeout must be a duration from 1ms to 1h, got "99999h"',
    );
    expect(() => optionsFromFlags(T, { rate: '1e309' })).toThrow(/-R must be a number of requests per second/);
    expect(resolveOptions({ target: T, durationMs: LIMITS.durationMs.max }).durationMs).toBe(2_147_483_647);
  });

  it('--local-address must fit the target family', () => {
    expect(flagOf(() => resolveOptions({ target: T, localAddresses: ['127.0.0.1', '::1'] }))).toBe('--local-address');
    expect(flagOf(() => resolveOptions({ target: T, localAddresses: ['::1'] }))).toBe('--local-address');
    expect(resolveOptions({ target: 'http://[::1]:8080/', localAddresses: ['::1'] }).localAddresses).toEqual(['::1']);
  });
});

describe('defaultTlsResume', () => {
  it('resumes in the default net engine (as undici did) and in http; not in churn or h2', () => {
    expect(defaultTlsResume('net', true)).toBe(true);
    expect(defaultTlsResume('undici', true)).toBe(true);
    expect(defaultTlsResume('http', false)).toBe(true);
    expect(defaultTlsResume('net', false)).toBe(false);
    expect(defaultTlsResume('h2', true)).toBe(false);
  });
});

describe('engineThatRuns', () => {
  it('names churn for undici and net without keep-alive, and what was asked otherwise', () => {
    expect(engineThatRuns({ engine: 'undici', keepAlive: false })).toBe('churn');
    expect(engineThatRuns({ engine: 'net', keepAlive: false })).toBe('churn');
    expect(engineThatRuns({ engine: 'http', keepAlive: false })).toBe('http');
    expect(engineThatRuns({ engine: 'undici', keepAlive: true })).toBe('undici');
    expect(engineThatRuns({ engine: 'h2c', keepAlive: true })).toBe('h2');
  });
});
