import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { isLoopbackHost } from '@kalab/core/options';
import { tokensEqual } from './token.js';

/** Where a request comes from, as far as a browser can tell us: no Origin (a CLI, an agent, curl, Prometheus), the monitor's own page, or another site. */
export type OriginKind = 'none' | 'same' | 'foreign';

/** Why a request was refused before it got any data; each is counted in the hub's stats. */
export type Refusal = 'unknownHost' | 'foreignOrigin' | 'unauthorized';

const WILDCARDS = new Set(['0.0.0.0', '::', '', '[::]']);

function bracket(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/**
 * The names a browser may use to reach this monitor: what it listens on (every interface
 * address and this host's name for a wildcard bind), the localhost forms when it listens on
 * loopback, and the names the operator allowed (a DNS name in front of it). A page that
 * reached the monitor through any other name (DNS rebinding) is not the monitor's own page.
 */
export function allowedHostNames(bind: string, extra: readonly string[], hostName: string): string[] {
  const names = new Set<string>([bind, ...extra]);
  if (isLoopbackHost(bind) || WILDCARDS.has(bind)) for (const n of ['localhost', '127.0.0.1', '::1']) names.add(n);
  if (WILDCARDS.has(bind)) {
    for (const n of [hostname(), hostName]) names.add(n);
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) names.add(a.address.replace(/%.*$/, ''));
  }
  return [...names].map((n) => bracket(n.toLowerCase()));
}

/**
 * Checks Host and Origin of every HTTP request and ws upgrade, and the bearer token of reads.
 * Host must be an allowed name with the monitor's port; an Origin header (only browsers send
 * one) must be `http://` + such a Host.
 */
export class RequestGuard {
  private readonly hosts: Set<string>;

  constructor(
    names: readonly string[],
    port: number,
    private readonly readToken: string | undefined,
  ) {
    this.hosts = new Set(names.flatMap((n) => (port === 80 ? [`${n}:${port}`, n] : [`${n}:${port}`])));
  }

  hostAllowed(req: IncomingMessage): boolean {
    const h = req.headers.host;
    return h !== undefined && this.hosts.has(h.toLowerCase());
  }

  origin(req: IncomingMessage): OriginKind {
    const o = req.headers.origin;
    if (o === undefined) return 'none';
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      return 'foreign'; // "null" (a sandboxed frame, a file:// page) and garbage alike
    }
    return u.protocol === 'http:' && u.pathname === '/' && this.hosts.has(u.host) ? 'same' : 'foreign';
  }

  /** The reason to refuse a request before any data, or undefined when it passes Host and Origin. */
  refuse(req: IncomingMessage): Refusal | undefined {
    if (!this.hostAllowed(req)) return 'unknownHost';
    if (this.origin(req) === 'foreign') return 'foreignOrigin';
    return undefined;
  }

  /** Reads (snapshot, metrics) need `Authorization: Bearer <token>` when the monitor has a token and reads are not public. */
  readAllowed(req: IncomingMessage): boolean {
    if (this.readToken === undefined) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return tokensEqual(m?.[1], this.readToken);
  }
}

/** Status and text of each refusal: 421 for a name this monitor does not serve, 403 for another site's page, 401 without the token. */
export const REFUSAL_RESPONSE: Record<Refusal, { status: number; text: string }> = {
  unknownHost: { status: 421, text: 'misdirected request: this monitor does not serve that Host name\n' },
  foreignOrigin: { status: 403, text: 'forbidden: a page of another origin may not use this monitor\n' },
  unauthorized: {
    status: 401,
    text: 'unauthorized: this monitor needs its token (Authorization: Bearer <token>)\n',
  },
};
