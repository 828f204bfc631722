import { isIP } from 'node:net';
import { BadOptionError, parseInteger } from '@kalab/core';
import { loadCertificate, type ServerCertificate } from './certificate.js';
import { SERVER_DEFAULTS, SERVER_LIMITS } from './defaults.js';

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
  /** Serve HTTPS on `port` (a certificate for 127.0.0.1, ::1 and localhost is generated at listen unless cert/key are given). */
  tls?: boolean;
  /** PEM certificate (chain) and its private key: serve HTTPS with them (implies tls). */
  cert?: string;
  key?: string;
  /** With TLS: also offer HTTP/2 by ALPN on the TLS port. */
  h2?: boolean;
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
  /** null: plain TCP; { certificate: null }: TLS with a certificate generated at listen. */
  tls: { certificate: ServerCertificate | null; h2: boolean } | null;
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
  'tls',
  'cert',
  'key',
  'h2',
]);

/** What each option is called in messages: its own name by default, a CLI's flag when the CLI says so. */
export type OptionNames = Partial<Record<keyof LabServerOptions, string>>;

type Limited = keyof typeof SERVER_LIMITS;

/**
 * Validates options once, at the boundary; every message names the option (or the flag
 * `names` gives for it) and its range from SERVER_LIMITS
 * (`keepAliveTimeout must be an integer from 0 to 2147483647, got "-1"`).
 */
export function resolveServerOptions(options: LabServerOptions = {}, names: OptionNames = {}): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') throw new BadOptionError('options', 'options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new BadOptionError(key, `unknown option ${key}`);
  }
  const nameOf = (key: keyof LabServerOptions) => names[key] ?? key;
  const int = (key: Limited, fallback: number): number => {
    const value = options[key];
    if (value === undefined) return fallback;
    const name = nameOf(key);
    if (typeof value !== 'number') throw new BadOptionError(name, `${name} must be a number, got ${typeof value}`);
    return parseInteger(name, value, SERVER_LIMITS[key].min, SERVER_LIMITS[key].max);
  };
  const nullableInt = (key: 'bodyBytes' | 'h2cPort', fallback: number | null): number | null =>
    options[key] === undefined || options[key] === null ? fallback : int(key, 0);
  const host = options.host ?? SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || !(isIP(host) || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host))) {
    throw new BadOptionError(
      nameOf('host'),
      `${nameOf('host')} must be an IP address or a host name, got "${String(host)}"`,
    );
  }
  const close = options.close ?? SERVER_DEFAULTS.close;
  if (typeof close !== 'boolean') throw new BadOptionError(nameOf('close'), `${nameOf('close')} must be true or false`);
  const resolved: ResolvedServerOptions = {
    host,
    port: int('port', SERVER_DEFAULTS.port),
    keepAliveTimeout: int('keepAliveTimeout', SERVER_DEFAULTS.keepAliveTimeoutMs),
    headersTimeout: int('headersTimeout', SERVER_DEFAULTS.headersTimeoutMs),
    requestTimeout: int('requestTimeout', SERVER_DEFAULTS.requestTimeoutMs),
    maxRequestsPerSocket: int('maxRequestsPerSocket', SERVER_DEFAULTS.maxRequestsPerSocket),
    close,
    delayUs: int('delayUs', SERVER_DEFAULTS.delayUs),
    bodyBytes: nullableInt('bodyBytes', SERVER_DEFAULTS.bodyBytes),
    h2cPort: nullableInt('h2cPort', SERVER_DEFAULTS.h2cPort),
    ledgerHistory: int('ledgerHistory', SERVER_DEFAULTS.ledgerHistory),
    shutdownGraceMs: int('shutdownGraceMs', SERVER_DEFAULTS.shutdownGraceMs),
    tls: resolveTls(options, nameOf),
  };
  // node:http refuses this combination with ERR_OUT_OF_RANGE; say it in the lab's words.
  if (resolved.requestTimeout > 0 && resolved.headersTimeout > resolved.requestTimeout) {
    throw new BadOptionError(
      nameOf('headersTimeout'),
      `${nameOf('headersTimeout')} must be <= ${nameOf('requestTimeout')} (${resolved.requestTimeout} ms), got ${resolved.headersTimeout} ms`,
    );
  }
  if (resolved.h2cPort !== null && resolved.h2cPort !== 0 && resolved.h2cPort === resolved.port) {
    throw new BadOptionError(
      nameOf('h2cPort'),
      `${nameOf('h2cPort')} must differ from ${nameOf('port')} (${resolved.port})`,
    );
  }
  return resolved;
}

function resolveTls(
  options: LabServerOptions,
  nameOf: (key: keyof LabServerOptions) => string,
): ResolvedServerOptions['tls'] {
  for (const key of ['tls', 'h2'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean')
      throw new BadOptionError(nameOf(key), `${nameOf(key)} must be true or false`);
  }
  const { cert, key } = options;
  if ((cert === undefined) !== (key === undefined)) {
    const [given, lacking] = cert === undefined ? (['key', 'cert'] as const) : (['cert', 'key'] as const);
    throw new BadOptionError(nameOf(given), `${nameOf(given)} needs ${nameOf(lacking)}`);
  }
  for (const k of ['cert', 'key'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'string')
      throw new BadOptionError(nameOf(k), `${nameOf(k)} must be PEM text`);
  }
  const tls = options.tls === true || cert !== undefined;
  if (options.h2 === true && !tls)
    throw new BadOptionError(
      nameOf('h2'),
      `${nameOf('h2')} needs ${nameOf('tls')} (HTTP/2 is offered by ALPN on the TLS port)`,
    );
  if (!tls) return null;
  const certificate =
    cert !== undefined && key !== undefined
      ? loadCertificate(cert, key, { cert: nameOf('cert'), key: nameOf('key') })
      : null;
  return { certificate, h2: options.h2 === true };
}
