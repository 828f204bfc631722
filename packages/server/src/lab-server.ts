import http from 'node:http';
import type { Http2Server, Http2Session } from 'node:http2';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { UnreachableError } from '@kalab/core';
import { generateCertificate, type ServerCertificate } from './certificate.js';
import { ConnectionLedger, type LedgerStats } from './connection-ledger.js';
import { createH2cServer } from './h2c-listener.js';
import { instrumentHttp1 } from './http1-handler.js';
import { type LabServerOptions, type ResolvedServerOptions, resolveServerOptions } from './options.js';
import { createTlsListener } from './tls-listener.js';

export interface LabServerAddress {
  host: string;
  port: number;
  url: string;
  h2cPort: number | null;
  h2cUrl: string | null;
  /** TLS: the certificate presented on `port` (its PEM, SHA-256 fingerprint, names), else null. */
  certificate: Omit<ServerCertificate, 'key'> | null;
}

export interface LabServer {
  readonly options: ResolvedServerOptions;
  readonly ledger: ConnectionLedger;
  /** The node:http server underneath (for tests and embedding). */
  readonly http: http.Server;
  readonly h2c: Http2Server | null;
  /** The TLS listener on `port` when serving TLS (it hands connections to `http` or, for ALPN h2, an HTTP/2 server). */
  readonly tls: TlsServer | null;
  /** Binds the listeners; rejects with UnreachableError (exit 3) when a port cannot be bound. */
  listen(): Promise<LabServerAddress>;
  /** The bound address; throws before listen(). */
  address(): LabServerAddress;
  stats(): LedgerStats;
  /**
   * Graceful shutdown: stops accepting, closes idle keep-alive connections, lets in-flight
   * requests finish (answered with `Connection: close`) for up to `graceMs`, then destroys
   * what is left. Every connection still open is recorded as closed by the server.
   */
  close(options?: { graceMs?: number }): Promise<LedgerStats>;
}

function urlFor(host: string, port: number, scheme = 'http'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listenOn(server: NetServer, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.code === 'EADDRNOTAVAIL'
              ? 'address not available on this host'
              : err.message;
      reject(
        new UnreachableError(
          `cannot listen on ${urlFor(host, port, '').slice(3)} (${what}): ${why} (${err.code ?? 'error'})`,
          { cause: err },
        ),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, backlog: LISTEN_BACKLOG });
  });
}

/**
 * The accept queue asked of the kernel (it caps it at net.core.somaxconn, 4096 by default on
 * Linux 5.4+). Node's default of 511 overflows when a load generator opens thousands of
 * connections at once: SYNs are dropped and retried a second later, and the run measures the
 * server's queue instead of its clients.
 */
const LISTEN_BACKLOG = 65_535;

/** The instrumented keep-alive server: node:http (and an optional h2c listener) feeding one ledger. */
export function createLabServer(options: LabServerOptions = {}): LabServer {
  const opts = resolveServerOptions(options);
  const ledger = new ConnectionLedger(opts.ledgerHistory);
  const state = { shuttingDown: false };
  // The headers/request timeouts are enforced by a periodic sweep (30 s by default in Node);
  // sweep often enough that a short timeout fires close to its configured time.
  const shortest = Math.min(...[opts.headersTimeout, opts.requestTimeout].filter((t) => t > 0), 120_000);
  const server = http.createServer({
    keepAliveTimeout: opts.keepAliveTimeout,
    headersTimeout: opts.headersTimeout,
    requestTimeout: opts.requestTimeout,
    connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(shortest / 4))),
  });
  server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
  instrumentHttp1(server, ledger, opts, state);
  const h2c = opts.h2cPort === null ? null : createH2cServer(ledger, opts, state);
  const h2Sessions = new Set<Http2Session>();
  const trackSessions = (s: Http2Server | null) =>
    s?.on('session', (session: Http2Session) => {
      h2Sessions.add(session);
      session.once('close', () => h2Sessions.delete(session));
    });
  trackSessions(h2c);
  // TLS: the TLS listener owns the port; HTTP/1.1 goes to `server`, ALPN h2 to an HTTP/2 server of its own.
  const h2OverTls = opts.tls?.h2 ? createH2cServer(ledger, opts, state, 'h2') : null;
  trackSessions(h2OverTls);
  const tlsServer = opts.tls ? createTlsListener(ledger, server, h2OverTls, opts.tls.certificate) : null;
  if (opts.tls) ledger.tls = { handshakes: 0, resumed: 0 };

  let bound: LabServerAddress | null = null;
  let closing: Promise<LedgerStats> | null = null;

  const lab: LabServer = {
    options: opts,
    ledger,
    http: server,
    h2c,
    tls: tlsServer,
    async listen() {
      let certificate: ServerCertificate | null = null;
      if (tlsServer && opts.tls) {
        certificate = opts.tls.certificate ?? (await generateCertificate());
        tlsServer.setSecureContext({ cert: certificate.cert, key: certificate.key });
      }
      const port = await listenOn(tlsServer ?? server, opts.host, opts.port, tlsServer ? 'https' : 'http');
      // node:http tracks connections (closeIdleConnections, the headers/request timeout sweep) from
      // its 'listening' event; behind the TLS listener it never listens itself, so say it is.
      if (tlsServer) server.emit('listening');
      let h2cPort: number | null = null;
      if (h2c) {
        try {
          h2cPort = await listenOn(h2c, opts.host, opts.h2cPort ?? 0, 'h2c');
        } catch (err) {
          (tlsServer ?? server).close();
          throw err;
        }
      }
      bound = {
        host: opts.host,
        port,
        url: urlFor(opts.host, port, tlsServer ? 'https' : 'http'),
        h2cPort,
        h2cUrl: h2cPort === null ? null : urlFor(opts.host, h2cPort),
        certificate:
          certificate === null
            ? null
            : {
                cert: certificate.cert,
                fingerprint256: certificate.fingerprint256,
                subjectAltName: certificate.subjectAltName,
                generated: certificate.generated,
              },
      };
      return bound;
    },
    address() {
      if (!bound) throw new Error('the lab server is not listening yet');
      return bound;
    },
    stats: () => ledger.stats(),
    close({ graceMs = opts.shutdownGraceMs } = {}) {
      closing ??= (async () => {
        state.shuttingDown = true;
        for (const rec of ledger.openConnections()) ledger.intend(rec, 'server');
        const closed = [
          // Behind TLS, close() still stops node:http's timeout sweep (and answers ERR_SERVER_NOT_RUNNING).
          new Promise<void>((resolve) => (server.listening || tlsServer ? server.close(() => resolve()) : resolve())),
          new Promise<void>((resolve) => (h2c?.listening ? h2c.close(() => resolve()) : resolve())),
          new Promise<void>((resolve) => (tlsServer?.listening ? tlsServer.close(() => resolve()) : resolve())),
        ];
        // server.close() already closes idle keep-alive sockets (Node >= 19); be explicit.
        server.closeIdleConnections();
        for (const session of h2Sessions) session.close();
        const deadline = setTimeout(() => {
          server.closeAllConnections();
          for (const session of h2Sessions) session.destroy();
        }, graceMs);
        await Promise.all(closed);
        clearTimeout(deadline);
        // A listener's 'close' can run before the last sockets' own 'close' events.
        const until = Date.now() + 1000;
        while (ledger.openCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
        return ledger.stats();
      })();
      return closing;
    },
  };
  return lab;
}
