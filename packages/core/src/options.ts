import { isIP } from 'node:net';
import { BadOptionError } from './errors.js';

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** 2^31-1 ms (~24.8 days): the longest delay Node's timers accept; longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** An inclusive range, in the unit of the value it bounds (milliseconds for durations). */
export interface Range {
  min: number;
  max: number;
}

/** `500ms`, `10s`, `2m`, `1h`, or `2147483647ms (~24.8 days)`: a bound as a user would type it. */
export function formatDurationMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms > 86_400_000) return `${ms}ms (~${Math.floor(ms / 8_640_000) / 10} days)`;
  return `${ms}ms`;
}

/**
 * Parses `500ms`, `10s`, `2m`, `1h` or a plain number into milliseconds, within `range`
 * (default 0 to 2^31-1 ms, the longest timer Node keeps: every duration flag gets the bound).
 * A plain number is in `plainUnit` (seconds for `-d`, milliseconds for `--*-timeout`).
 * Messages name the option, the allowed range, and quote what was typed.
 */
export function parseDuration(
  option: string,
  value: string | number,
  plainUnit: 's' | 'ms' = 'ms',
  range: Partial<Range> = {},
): number {
  const min = range.min ?? 0;
  const max = range.max ?? MAX_TIMER_MS;
  let ms: number;
  if (typeof value === 'number') {
    ms = value * UNITS[plainUnit]!;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*$/.exec(value);
    if (!m)
      throw new BadOptionError(
        option,
        `${option} must be a duration like 500ms, 10s or 2m (a plain number is ${plainUnit === 's' ? 'seconds' : 'milliseconds'}), got "${value}"`,
      );
    ms = Number(m[1]) * UNITS[m[2] ?? plainUnit]!;
  }
  if (!Number.isFinite(ms) || ms < min || ms > max)
    throw new BadOptionError(
      option,
      `${option} must be a duration from ${formatDurationMs(min)} to ${formatDurationMs(max)}, got "${value}"`,
    );
  return ms;
}

/** An integer in [min, max]; the message names the option and the range, piscina-style. */
export function parseInteger(
  option: string,
  value: string | number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new BadOptionError(option, `${option} must be ${range}, got "${value}"`);
  }
  return n;
}

export function parsePort(option: string, value: string | number, allowZero = true): number {
  return parseInteger(option, value, allowZero ? 0 : 1, 65_535);
}

/** Parses an http(s) URL; `protocols` lists the accepted schemes. */
export function parseUrl(option: string, value: string, protocols: readonly string[] = ['http:', 'https:']): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadOptionError(option, `${option} must be a URL like http://127.0.0.1:8080/, got "${value}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new BadOptionError(option, `${option} must use ${protocols.join(' or ')}, got "${url.protocol}"`);
  }
  return url;
}

/** A URL's port, or its scheme's default when it names none (443 for https:, 80 otherwise). */
export function urlPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost` (loopback unless another address is typed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return false;
}

/**
 * Source addresses for connections to `targetHost`: each must be an IP address of the
 * target's family (an IPv4 source cannot connect to an IPv6 target and the other way round;
 * node fails such a connect with EINVAL, half a run later). A host name as target is
 * resolved at connect time, so only the list's own consistency is checked then.
 */
export function checkSourceAddresses(option: string, addresses: readonly string[], targetHost: string): void {
  const host = targetHost.replace(/^\[|\]$/g, '');
  const target = isIP(host);
  const families = new Set<number>();
  for (const a of addresses) {
    const family = isIP(a);
    if (family === 0) throw new BadOptionError(option, `${option} must list IP addresses, got "${a}"`);
    if (target !== 0 && family !== target)
      throw new BadOptionError(
        option,
        `${option} "${a}" is IPv${family} but the target ${host} is IPv${target}: every source address must be IPv${target}`,
      );
    families.add(family);
  }
  if (families.size > 1)
    throw new BadOptionError(
      option,
      `${option} mixes IPv4 and IPv6 addresses ("${addresses.join(',')}"): a connection's source and target share one family`,
    );
}
