import net from 'node:net';
import tls from 'node:tls';
import { Http1ResponseParser, LAB_VERSION, UnreachableError, urlPort } from '@kalab/core';

/** One HTTP/1.x response as the doctor sees it on the wire. */
export interface WireResponse {
  statusCode: number;
  /** `1.1` or `1.0`, from the status line. */
  httpVersion: string;
  /** Header names lower-cased, in arrival order (repeated headers stay separate). */
  headers: Array<[string, string]>;
  bodyBytes: number;
  /**
   * True when the connection cannot carry another response after this one:
   * `Connection: close`, HTTP/1.0 without `Connection: keep-alive`, or a body
   * delimited by the end of the connection.
   */
  closeAfter: boolean;
  /** performance.now() when the last byte of the response arrived. */
  endedAt: number;
}

/** Every value of one header (lower-case name), in arrival order. */
export function headerValues(headers: ReadonlyArray<[string, string]>, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) if (k === name) out.push(v);
  return out;
}

/** Where the doctor connects: exactly the host and port the user typed, nothing else. */
export interface ProbeTarget {
  url: URL;
  /** Host for connect(), IPv6 brackets removed. */
  host: string;
  port: number;
  tls: boolean;
  /** Request target (path + query). */
  path: string;
  /** Host header value. */
  authority: string;
  /** Verify the server certificate (https); tests with self-signed certificates turn it off. */
  rejectUnauthorized: boolean;
}

export function targetFromUrl(url: URL, rejectUnauthorized = true): ProbeTarget {
  const isTls = url.protocol === 'https:';
  return {
    url,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: urlPort(url),
    tls: isTls,
    path: `${url.pathname || '/'}${url.search}`,
    authority: url.host,
    rejectUnauthorized,
  };
}

/** How the connection ended: the server's FIN ('end'), a RST, another socket error, or our own destroy(). */
export type CloseKind = 'fin' | 'reset' | 'error' | 'local';

export interface OpenOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** ALPN list for https; HTTP/1.1 probes offer only http/1.1 so the server cannot pick h2. */
  alpn?: string[];
  /** https: a session to offer for resumption (from an earlier connection's `session`). */
  session?: Buffer;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NODATA',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
]);

/** A TLS client hello answered by something that is not TLS (an HTTP/1.x error page, most often). */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** What node adds to an OpenSSL error: `reason` is OpenSSL's short text, without its source path. */
type TlsErrorFields = NodeJS.ErrnoException & { reason?: unknown; library?: unknown };

/** One line for a failed connect or TLS handshake: the errno, or what TLS said, never OpenSSL's raw string. */
export function connectFailure(err: TlsErrorFields, isTls: boolean): string {
  if (err.code && UNREACHABLE_CODES.has(err.code)) return err.code;
  if (isTls && err.code && NOT_TLS_CODES.has(err.code)) return 'the server did not answer TLS: is it plain HTTP?';
  if (typeof err.reason === 'string' && typeof err.library === 'string') return `TLS handshake failed: ${err.reason}`;
  return err.message.split('\n')[0]!;
}

/**
 * One raw TCP (or TLS) connection speaking HTTP/1.1 by hand, so the doctor sees
 * exactly when the server closes (FIN = 'end'), what it sends, and how many
 * responses come back for requests written in one go.
 */
export class ProbeConnection {
  readonly responses: WireResponse[] = [];
  requestsSent = 0;
  /** performance.now() of the server's FIN, or of the RST/error that ended the connection. */
  closedAt: number | undefined;
  closeKind: CloseKind | undefined;
  error: Error | undefined;
  /** Negotiated ALPN protocol (https), null when none. */
  readonly alpn: string | null;
  /** https: the handshake (version, resumed or full, whether the server issued a TLS 1.2 ticket); null over TCP. */
  readonly tls: { protocol: string | null; resumed: boolean; ticket: boolean } | null;
  /** https: the newest session the server gave (a TLS 1.3 ticket, or a 1.2 ticket or ID), to resume with. */
  session: Buffer | null = null;
  /** Resolves when the socket is fully closed (by either side). */
  readonly whenClosed: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private readonly parser: Http1ResponseParser;
  /** Bytes the server sent on this connection, any at all. */
  bytesReceived = 0;
  private destroyedLocally = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly target: ProbeTarget,
  ) {
    this.alpn = socket instanceof tls.TLSSocket ? socket.alpnProtocol || null : null;
    this.tls =
      socket instanceof tls.TLSSocket
        ? {
            protocol: socket.getProtocol(),
            resumed: socket.isSessionReused(),
            ticket: socket.getTLSTicket() !== undefined,
          }
        : null;
    // TLS 1.2 hands its session over during the handshake (before this object exists); TLS 1.3
    // sends tickets after it, as 'session' events.
    if (socket instanceof tls.TLSSocket && this.tls?.protocol !== 'TLSv1.3') this.session = socket.getSession() ?? null;
    if (socket instanceof tls.TLSSocket)
      socket.on('session', (s: Buffer) => {
        this.session = s;
      });
    const parser = new Http1ResponseParser(
      (statusCode, keepAlive) => {
        this.responses.push({
          statusCode,
          httpVersion: `1.${parser.httpMinor}`,
          headers: parser.headers ?? [],
          bodyBytes: parser.bodyBytes,
          closeAfter: !keepAlive,
          endedAt: performance.now(),
        });
        this.wake();
      },
      { headers: true },
    );
    this.parser = parser;
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      try {
        this.parser.execute(chunk);
      } catch (err) {
        // Bad bytes from the network are data: end this connection, report the error.
        this.markClosed('error', err as Error);
        socket.destroy();
      }
    });
    socket.on('end', () => {
      this.parser.end();
      this.markClosed('fin');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.markClosed(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'error', err);
    });
    this.whenClosed = new Promise((resolve) => {
      socket.on('close', () => {
        this.markClosed(this.destroyedLocally ? 'local' : 'error');
        resolve();
      });
    });
  }

  /** Opens a connection; connect failures become UnreachableError naming host, port and errno. */
  static open(target: ProbeTarget, opts: OpenOptions): Promise<ProbeConnection> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new UnreachableError(`cannot reach ${target.host}:${target.port}: time budget spent before connecting`));
        return;
      }
      const startedAt = performance.now();
      const socket = target.tls
        ? tls.connect({
            host: target.host,
            port: target.port,
            servername: net.isIP(target.host) ? undefined : target.host,
            ALPNProtocols: opts.alpn ?? ['http/1.1'],
            rejectUnauthorized: target.rejectUnauthorized,
            ...(opts.session ? { session: opts.session } : {}),
          })
        : net.connect({ host: target.host, port: target.port });
      const readyEvent = target.tls ? 'secureConnect' : 'connect';
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off(readyEvent, onReady);
      };
      const fail = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onError = (err: TlsErrorFields) => {
        fail(
          new UnreachableError(`cannot reach ${target.host}:${target.port}: ${connectFailure(err, target.tls)}`, {
            cause: err,
          }),
        );
      };
      const onAbort = () =>
        fail(
          new UnreachableError(
            `cannot reach ${target.host}:${target.port}: no connection within ${Math.round(performance.now() - startedAt)} ms (time budget spent)`,
          ),
        );
      const onReady = () => {
        cleanup();
        socket.setNoDelay(true);
        resolve(new ProbeConnection(socket, target));
      };
      const timer = setTimeout(
        () =>
          fail(
            new UnreachableError(
              `cannot reach ${target.host}:${target.port}: no connection within ${Math.round(opts.timeoutMs)} ms`,
            ),
          ),
        opts.timeoutMs,
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once(readyEvent, onReady);
    });
  }

  get closed(): boolean {
    return this.closeKind !== undefined;
  }

  /** Requests written but not answered yet. */
  get outstanding(): number {
    return this.requestsSent - this.responses.length;
  }

  get lastResponse(): WireResponse | undefined {
    return this.responses[this.responses.length - 1];
  }

  /** Writes `count` GET requests in a single write (count > 1 is pipelining). */
  send(count = 1): void {
    if (this.closed) return;
    const req =
      `GET ${this.target.path} HTTP/1.1\r\n` +
      `Host: ${this.target.authority}\r\n` +
      `User-Agent: kalab-doctor/${LAB_VERSION}\r\n` +
      'Accept: */*\r\n\r\n';
    this.requestsSent += count;
    this.socket.write(req.repeat(count));
  }

  /**
   * Resolves true once `predicate` holds, false when the connection closes first
   * (after a last check), `ms` pass, or `signal` aborts.
   */
  waitFor(predicate: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    if (this.closed || signal?.aborted || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = () => {
        if (predicate()) finish(true);
        else if (this.closed) finish(false);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(check);
    });
  }

  /** Sends one request and waits for its response; undefined when none came. */
  async request(ms: number, signal?: AbortSignal): Promise<WireResponse | undefined> {
    const want = this.responses.length + 1;
    this.send(1);
    const ok = await this.waitFor(() => this.responses.length >= want, ms, signal);
    return ok ? this.responses[want - 1] : undefined;
  }

  destroy(): void {
    this.destroyedLocally = true;
    this.socket.destroy();
  }

  private markClosed(kind: CloseKind, err?: Error): void {
    if (this.closeKind === undefined) {
      this.closeKind = kind;
      this.closedAt = performance.now();
    }
    if (err && !this.error) this.error = err;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
