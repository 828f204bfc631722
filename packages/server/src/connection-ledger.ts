import { RingBuffer } from '@kalab/core';
import { channels } from './channels.js';

/**
 * Why a connection closed (the protocol's ConnectionEvent.reason):
 * - client:      the peer closed first (its FIN arrived before the server closed), reset it
 *                (RST: also counted in errors.ECONNRESET), or asked for `Connection: close`
 *                / spoke HTTP/1.0 without keep-alive
 * - idleTimeout: the server's keepAliveTimeout expired on an idle connection
 * - maxRequests: the server answered the last request allowed (`Connection: close`)
 * - error:       a parse error (400, 431), a headers/request timeout (408), a reset
 * - server:      the server chose to close: `--close`, or shutdown
 */
export type CloseReason = 'client' | 'idleTimeout' | 'maxRequests' | 'error' | 'server';
export const CLOSE_REASONS: readonly CloseReason[] = ['client', 'idleTimeout', 'maxRequests', 'error', 'server'];

/** http1 (over TCP or TLS), h2c (HTTP/2 prior knowledge), h2 (HTTP/2 over TLS, by ALPN). */
export type ConnectionProtocol = 'http1' | 'h2c' | 'h2';

/** A TLS connection's handshake, as the server saw it. */
export interface TlsInfo {
  /** A session resumed from a ticket or ID (an abbreviated handshake) rather than a full one. */
  resumed: boolean;
  /** TLSv1.3, TLSv1.2... */
  protocol: string | null;
  /** The ALPN protocol agreed (h2, http/1.1), or null when the client offered none. */
  alpn: string | null;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One TCP connection as the server saw it. Fields are fixed so every record has one shape. */
export class ConnectionRecord {
  requests = 0;
  closedAt: number | null = null;
  closedBy: CloseReason | null = null;
  /** The error code when closedBy is `error` (HPE_INVALID_METHOD, ERR_HTTP_REQUEST_TIMEOUT, ECONNRESET...). */
  errorCode: string | null = null;
  /**
   * What the server has already decided or seen that will end this connection; the first
   * one wins, so a peer FIN that answers our `Connection: close` is not counted as the client's.
   */
  closing: CloseReason | null = null;
  /** TLS connections: full or resumed handshake, version, ALPN (null over plain TCP). */
  tls: TlsInfo | null = null;
  /** Request body bytes the server read on this connection. */
  bodyBytes = 0;

  constructor(
    readonly id: number,
    readonly protocol: ConnectionProtocol,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
    readonly openedAt: number,
  ) {}

  get remote(): string {
    return hostPort(this.remoteAddress, this.remotePort);
  }

  get local(): string {
    return hostPort(this.localAddress, this.localPort);
  }
}

/** The JSON of `GET /_kalab/stats` (docs/server.md), exactly. */
export interface LedgerStats {
  connections: { opened: number; open: number; closed: number; closedBy: Record<CloseReason, number> };
  requests: { total: number };
  requestsPerConnection: { mean: number; max: number };
  /** Only when the server serves TLS: handshakes completed (one per connection opened) and how many resumed a session. */
  tls?: { handshakes: number; resumed: number };
}

/**
 * The server's account of every connection: counters are updated per event (a few integer
 * increments), everything else is computed when asked.
 */
export class ConnectionLedger {
  private nextId = 1;
  private readonly live = new Map<number, ConnectionRecord>();
  private readonly history: RingBuffer<ConnectionRecord> | null;
  opened = 0;
  closed = 0;
  requests = 0;
  maxRequestsOnOne = 0;
  readonly closedBy: Record<CloseReason, number> = { client: 0, idleTimeout: 0, maxRequests: 0, error: 0, server: 0 };
  /** TLS handshakes completed and resumed; null when the server does not serve TLS (stats() then has no `tls`). */
  tls: { handshakes: number; resumed: number } | null = null;
  /** Request body bytes read, over every connection. */
  bodyBytes = 0;
  /** Error codes seen on closed connections: every `error` close, and client resets (ECONNRESET, closed by client). */
  readonly errors: Record<string, number> = {};

  constructor(historySize = 1000) {
    this.history = historySize > 0 ? new RingBuffer<ConnectionRecord>(historySize) : null;
  }

  /** A connection was accepted; takes the socket's own address fields. */
  open(
    protocol: ConnectionProtocol,
    socket: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number },
  ): ConnectionRecord {
    const rec = new ConnectionRecord(
      this.nextId++,
      protocol,
      socket.remoteAddress ?? '?',
      socket.remotePort ?? 0,
      socket.localAddress ?? '?',
      socket.localPort ?? 0,
      Date.now(),
    );
    this.opened++;
    this.live.set(rec.id, rec);
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ ledger: this, connection: rec });
    return rec;
  }

  /** Hot path: one request arrived on `rec`. */
  request(rec: ConnectionRecord, method: string | undefined, url: string | undefined): void {
    const n = ++rec.requests;
    this.requests++;
    if (n > this.maxRequestsOnOne) this.maxRequestsOnOne = n;
    if (channels.request.hasSubscribers) channels.request.publish({ ledger: this, connection: rec, method, url });
  }

  /** A TLS handshake completed on `rec` (called right after open() for a TLS connection). */
  handshake(rec: ConnectionRecord, info: TlsInfo): void {
    rec.tls = info;
    this.tls ??= { handshakes: 0, resumed: 0 };
    this.tls.handshakes++;
    if (info.resumed) this.tls.resumed++;
  }

  /** A request's body (n bytes) was read to its end on `rec`; `headers` are its raw headers, for subscribers. */
  requestEnd(
    rec: ConnectionRecord,
    method: string | undefined,
    url: string | undefined,
    headers: readonly string[],
    bodyBytes: number,
  ): void {
    rec.bodyBytes += bodyBytes;
    this.bodyBytes += bodyBytes;
    if (channels.requestEnd.hasSubscribers)
      channels.requestEnd.publish({ ledger: this, connection: rec, method, url, headers, bodyBytes });
  }

  /** Records why the connection is going to close; the first reason sticks. */
  intend(rec: ConnectionRecord, reason: CloseReason, errorCode?: string): void {
    if (errorCode !== undefined && rec.errorCode === null) rec.errorCode = errorCode;
    if (rec.closing === null) rec.closing = reason;
  }

  /** The socket closed. `hadError` is net.Socket's 'close' argument. */
  close(rec: ConnectionRecord, hadError = false): void {
    if (rec.closedAt !== null) return;
    const reason: CloseReason = rec.closing ?? (hadError ? 'error' : 'client');
    rec.closedBy = reason;
    rec.closedAt = Date.now();
    this.closed++;
    this.closedBy[reason]++;
    if (reason === 'error' || rec.errorCode !== null) {
      const code = rec.errorCode ?? 'UNKNOWN';
      this.errors[code] = (this.errors[code] ?? 0) + 1;
    }
    this.live.delete(rec.id);
    this.history?.push(rec);
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ ledger: this, connection: rec });
  }

  get openCount(): number {
    return this.live.size;
  }

  /** Connections open now, oldest first. */
  openConnections(): ConnectionRecord[] {
    return [...this.live.values()];
  }

  /** The most recently closed connections (bounded by the history size), oldest first. */
  recentlyClosed(): ConnectionRecord[] {
    return this.history ? this.history.toArray() : [];
  }

  stats(): LedgerStats {
    return {
      connections: { opened: this.opened, open: this.live.size, closed: this.closed, closedBy: { ...this.closedBy } },
      requests: { total: this.requests },
      requestsPerConnection: {
        mean: this.opened > 0 ? Math.round((this.requests / this.opened) * 100) / 100 : 0,
        max: this.maxRequestsOnOne,
      },
      ...(this.tls ? { tls: { ...this.tls } } : {}),
    };
  }
}
