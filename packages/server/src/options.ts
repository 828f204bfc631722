import { isIP } from 'node:net';
import { BadOptionError, parseInteger } from '@kalab/core';
import { LIMITS, SERVER_DEFAULTS } from './defaults.js';

/** What `createLabServer` accepts. Times are milliseconds except `delayUs`. */
export interface LabServerOptions {
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  keepAliveTimeout?: number;
  headersTimeout?: number;
  requestTimeout?: number;
  /** 0 = unlimited. */
  maxRequestsPerSocket?: number;
  /** Answer every request with `Connection: close`. */
  close?: boolean;
  /** Response delay in microseconds; see docs/server.md for its precision. */
  delayUs?: number;
  /** Response body size in bytes; null/undefined = `Hello world`. */
  bodyBytes?: number | null;
  /** Port of the h2c (HTTP/2 cleartext) listener; null/undefined = none, 0 = a free port. */
  h2cPort?: number | null;
  /** Closed connections kept for inspection. */
  ledgerHistory?: number;
  shutdownGraceMs?: number;
}

export interface ResolvedServerOptions {
  host: string;
  port: number;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  maxRequestsPerSocket: number;
  close: boolean;
  delayUs: number;
  bodyBytes: number | null;
  h2cPort: number | null;
  ledgerHistory: number;
  shutdownGraceMs: number;
}

const KNOWN = new Set<string>([
  'host',
  'port',
  'keepAliveTimeout',
  'headersTimeout',
  'requestTimeout',
  'maxRequestsPerSocket',
  'close',
  'delayUs',
  'bodyBytes',
  'h2cPort',
  'ledgerHistory',
  'shutdownGraceMs',
]);

function int(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new BadOptionError(name, `${name} must be a number, got ${typeof value}`);
  return parseInteger(name, value, min, max);
}

function nullableInt(name: string, value: unknown, fallback: number | null, min: number, max: number): number | null {
  if (value === undefined || value === null) return fallback;
  return int(name, value, 0, min, max);
}

/**
 * Validates options once, at the boundary; every message names the option and its range
 * (`keepAliveTimeout must be an integer from 0 to 2147483647, got "-1"`).
 */
export function resolveServerOptions(options: LabServerOptions = {}): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') throw new BadOptionError('options', 'options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new BadOptionError(key, `unknown option ${key}`);
  }
  const host = options.host ?? SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || !(isIP(host) || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host))) {
    throw new BadOptionError('host', `host must be an IP address or a host name, got "${String(host)}"`);
  }
  const close = options.close ?? SERVER_DEFAULTS.close;
  if (typeof close !== 'boolean') throw new BadOptionError('close', 'close must be true or false');
  const max = LIMITS.maxTimeoutMs;
  const resolved: ResolvedServerOptions = {
    host,
    port: int('port', options.port, SERVER_DEFAULTS.port, 0, 65_535),
    keepAliveTimeout: int('keepAliveTimeout', options.keepAliveTimeout, SERVER_DEFAULTS.keepAliveTimeoutMs, 0, max),
    headersTimeout: int('headersTimeout', options.headersTimeout, SERVER_DEFAULTS.headersTimeoutMs, 0, max),
    requestTimeout: int('requestTimeout', options.requestTimeout, SERVER_DEFAULTS.requestTimeoutMs, 0, max),
    maxRequestsPerSocket: int(
      'maxRequestsPerSocket',
      options.maxRequestsPerSocket,
      SERVER_DEFAULTS.maxRequestsPerSocket,
      0,
      2 ** 31 - 1,
    ),
    close,
    delayUs: int('delayUs', options.delayUs, SERVER_DEFAULTS.delayUs, 0, LIMITS.maxDelayUs),
    bodyBytes: nullableInt('bodyBytes', options.bodyBytes, SERVER_DEFAULTS.bodyBytes, 0, LIMITS.maxBodyBytes),
    h2cPort: nullableInt('h2cPort', options.h2cPort, SERVER_DEFAULTS.h2cPort, 0, 65_535),
    ledgerHistory: int('ledgerHistory', options.ledgerHistory, SERVER_DEFAULTS.ledgerHistory, 0, 1_000_000),
    shutdownGraceMs: int('shutdownGraceMs', options.shutdownGraceMs, SERVER_DEFAULTS.shutdownGraceMs, 0, 600_000),
  };
  // node:http refuses this combination with ERR_OUT_OF_RANGE; say it in the lab's words.
  if (resolved.requestTimeout > 0 && resolved.headersTimeout > resolved.requestTimeout) {
    throw new BadOptionError(
      'headersTimeout',
      `headersTimeout must be <= requestTimeout (${resolved.requestTimeout} ms), got ${resolved.headersTimeout}`,
    );
  }
  if (resolved.h2cPort !== null && resolved.h2cPort !== 0 && resolved.h2cPort === resolved.port) {
    throw new BadOptionError('h2cPort', `h2cPort must differ from port (${resolved.port})`);
  }
  return resolved;
}
