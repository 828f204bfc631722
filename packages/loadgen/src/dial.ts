import { isIP, connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, createSecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { urlPort } from '@kalab/core';
import type { ResolvedTls } from './options.js';
import type { WorkerStats } from './worker-stats.js';

interface DialOptions {
  localAddress?: string | undefined;
  /** Reads handed to a callback in one shared buffer (net.Socket's `onread`; tls.connect takes it too). */
  onread?: OnReadOpts;
  /** ALPN offered on https:// (default http/1.1; the h2 engine offers h2). */
  alpn?: string[];
}

/**
 * Opens one connection to the target, as every engine does: a TCP socket for http://, a TLS
 * socket over it for https://. The engine counts the TCP connect (`stats.opened` on
 * 'connect', as before); the dialer counts the TLS handshake on 'secureConnect' (time from
 * the TCP connect, version, ALPN, resumed or full). A failed handshake is the socket's
 * 'error' (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID, ECONNRESET...), which
 * the engine fails its requests with.
 */
export type Dialer = (o?: DialOptions) => Socket;

export function createDialer(url: URL, tls: ResolvedTls | null, stats: WorkerStats): Dialer {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = urlPort(url);
  if (tls === null) {
    return (o = {}) =>
      netConnect({
        host,
        port,
        noDelay: true,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.onread ? { onread: o.onread } : {}),
      });
  }
  // SNI carries a DNS name only (an IP there is refused by RFC 6066 and warned about by node).
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  // One secure context per worker: tls.connect would otherwise build one (an OpenSSL SSL_CTX
  // with the root store) for every connection, which costs more than the handshake itself.
  const secureContext = createSecureContext(tls.ca !== null ? { ca: tls.ca } : {});
  const base: ConnectionOptions = {
    host,
    port,
    secureContext,
    rejectUnauthorized: !tls.insecure,
    ...(servername !== undefined ? { servername } : {}),
  };
  // One session per worker (one target): the newest ticket or ID, as https.Agent and undici keep one per host.
  let session: Buffer | undefined;
  const resume = tls.resume;
  return (o = {}) => {
    const s: TLSSocket = tlsConnect({
      ...base,
      ALPNProtocols: o.alpn ?? ['http/1.1'],
      ...(resume && session !== undefined ? { session } : {}),
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(o.onread ? { onread: o.onread } : {}),
    });
    s.setNoDelay(true);
    let tcpAt = 0;
    s.once('connect', () => {
      tcpAt = performance.now();
    });
    s.once('secureConnect', () => {
      stats.handshake((performance.now() - tcpAt) * 1000, s.getProtocol(), s.alpnProtocol, s.isSessionReused());
    });
    if (resume)
      s.on('session', (sess: Buffer) => {
        session = sess;
      });
    return s;
  };
}

/** The event after which a dialed socket carries requests: 'secureConnect' for TLS, 'connect' for TCP. */
export function readyEvent(s: Socket): 'secureConnect' | 'connect' {
  return (s as TLSSocket).encrypted === true ? 'secureConnect' : 'connect';
}
