import { describe, expect, it } from 'vitest';
import {
  BadOptionError,
  checkSourceAddresses,
  isLoopbackHost,
  MAX_TIMER_MS,
  parseDuration,
  parseInteger,
  parsePort,
  parseUrl,
} from '../src/index.js';

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

  it('bounds every duration by the longest timer Node keeps, quoting what was typed', () => {
    expect(parseDuration('-d', `${MAX_TIMER_MS}ms`, 's')).toBe(MAX_TIMER_MS);
    expect(() => parseDuration('-d', '999h', 's')).toThrow(
      '-d must be a duration from 0ms to 2147483647ms (~24.8 days), got "999h"',
    );
    expect(() => parseDuration('--timeout', '99999h', 's', { min: 1, max: 3_600_000 })).toThrow(
      '--timeout must be a duration from 1ms to 1h, got "99999h"',
    );
    for (const bad of ['1e309s', '-1ms', '', ' ', 'NaN', 'Infinity', '1.5.2s', '10 sec', '１０s'])
      expect(() => parseDuration('-d', bad, 's')).toThrow(BadOptionError);
    expect(() => parseDuration('-d', Number.NaN, 's')).toThrow(/got "NaN"/);
    expect(() => parseDuration('-d', -1, 's')).toThrow(/got "-1"/);
  });

  it('checks that source addresses fit the target family', () => {
    expect(() => checkSourceAddresses('--local-address', ['127.0.0.1', '127.0.0.2'], '127.0.0.1')).not.toThrow();
    expect(() => checkSourceAddresses('--local-address', ['::1'], '[::1]')).not.toThrow();
    expect(() => checkSourceAddresses('--local-address', ['127.0.0.1', '::1'], '127.0.0.1')).toThrow(
      '--local-address "::1" is IPv6 but the target 127.0.0.1 is IPv4: every source address must be IPv4',
    );
    expect(() => checkSourceAddresses('--local-address', ['::1'], '127.0.0.1')).toThrow(/"::1" is IPv6/);
    expect(() => checkSourceAddresses('--local-address', ['127.0.0.1', '::1'], 'localhost')).toThrow(
      /mixes IPv4 and IPv6/,
    );
    expect(() => checkSourceAddresses('--local-address', ['nope'], 'localhost')).toThrow(/must list IP addresses/);
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });
});
