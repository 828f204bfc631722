import { describe, expect, it } from 'vitest';
import { BadOptionError, isLoopbackHost, parseDuration, parseInteger, parsePort, parseUrl } from '../src/index.js';

describe('option parsing', () => {
  it('reads durations with units and plain numbers in the flag’s unit', () => {
    expect(parseDuration('-d', '10s', 's')).toBe(10_000);
    expect(parseDuration('-d', '10', 's')).toBe(10_000);
    expect(parseDuration('--keep-alive-timeout', '200')).toBe(200);
    expect(parseDuration('-d', '2m', 's')).toBe(120_000);
    expect(parseDuration('-d', '500ms', 's')).toBe(500);
  });

  it('names the flag in the error', () => {
    expect(() => parseDuration('-d', 'abc', 's')).toThrow(/-d must be a duration/);
    expect(() => parsePort('--port', '70000')).toThrow(BadOptionError);
    expect(() => parsePort('--port', '70000')).toThrow(/--port must be an integer from 0 to 65535/);
    expect(() => parseInteger('-c', '0', 1)).toThrow(/-c must be an integer >= 1/);
    expect(() => parseUrl('URL', 'nope')).toThrow(/URL must be a URL/);
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });
});

describe('RunOptionsSchema', () => {
  it('carries a per-request timeout from a monitor to its agents', async () => {
    const { RunOptionsSchema } = await import('../src/index.js');
    expect(RunOptionsSchema.parse({ target: 'http://127.0.0.1:8080/', timeoutMs: 500 }).timeoutMs).toBe(500);
    expect(RunOptionsSchema.safeParse({ target: 'http://127.0.0.1:8080/', timeoutMs: 0 }).success).toBe(false);
  });
});
