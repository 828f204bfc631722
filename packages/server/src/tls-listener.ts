import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { ConnectionLedger, ConnectionRecord } from './connection-ledger.js';
import { kRecord } from './http1-handler.js';

type LabTlsSocket = TLSSocket & { [kRecord]?: ConnectionRecord };

/**
 * The TLS port: a tls.Server that completes the handshake, then hands the secure socket to
 * the lab's own HTTP/1.1 server, or to its HTTP/2 server when the client chose h2 by ALPN
 * (`h2`: offered only with --h2). Both servers then instrument it exactly as a plain
 * connection (one ledger record per connection), and the record gets the handshake: full
 * or resumed (TLS 1.3 tickets, TLS 1.2 tickets or IDs), version, ALPN. Session tickets are
 * node's default (on); a connection whose handshake fails never reaches the ledger.
 */
export function createTlsListener(
  ledger: ConnectionLedger,
  http1: HttpServer,
  h2: Http2Server | null,
  certificate: { cert: string; key: string } | null,
): TlsServer {
  const server = createServer({
    ...(certificate ?? {}),
    // As node:http's own listener does: no Nagle delay on handshake flights and responses.
    noDelay: true,
    ALPNProtocols: h2 ? ['h2', 'http/1.1'] : ['http/1.1'],
  });
  server.on('secureConnection', (socket: LabTlsSocket) => {
    const alpn = socket.alpnProtocol || null;
    const target = alpn === 'h2' && h2 ? h2 : http1;
    // The lab's servers record the connection on 'connection' (ledger.open); the handshake is added to it.
    target.emit('connection', socket);
    const rec = socket[kRecord];
    if (rec) ledger.handshake(rec, { resumed: socket.isSessionReused(), protocol: socket.getProtocol(), alpn });
  });
  // A failed handshake (a client that refused the certificate, a plain-HTTP client) is the client's business.
  server.on('tlsClientError', () => {});
  return server;
}
