import { BadOptionError } from './errors.js';

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `500ms`, `10s`, `2m`, `1h` or a plain number into milliseconds.
 * A plain number is in `plainUnit` (DESIGN.md: seconds for `-d`, milliseconds for `--*-timeout`).
 */
export function parseDuration(option: string, value: string | number, plainUnit: 's' | 'ms' = 'ms'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new BadOptionError(option, `${option} must be a non-negative duration, got ${value}`);
    return value * UNITS[plainUnit]!;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new BadOptionError(option, `${option} must be a duration like 500ms, 10s or 2m, got "${value}"`);
  return Number(m[1]) * UNITS[m[2] ?? plainUnit]!;
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

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost` (DESIGN.md invariant: loopback unless typed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return false;
}
