import http2, {
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { channels } from './channels.js';
import type { ConnectionLedger, ConnectionProtocol, ConnectionRecord } from './connection-ledger.js';
import { STATS_PATH } from './defaults.js';
import { kRecord, responseBody } from './http1-handler.js';
import type { ResolvedServerOptions } from './options.js';
import { delayUs } from './response-delay.js';

type LabSocket = Socket & { [kRecord]?: ConnectionRecord };
type LabSession = Http2Session & { [kRecord]?: ConnectionRecord };

/** A reset stream is the client's business; the session's fate is recorded on the session. */
function ignoreStreamError(): void {}

/**
 * The h2c (HTTP/2 over cleartext, prior knowledge) listener. It feeds the same ledger:
 * an HTTP/2 session is one TCP connection, each stream is one request. HTTP/2 has no
 * `Connection: close`, so `close` and `maxRequestsPerSocket` end the session with GOAWAY
 * after the response, and keepAliveTimeout is the session's idle timeout.
 * The TLS listener hands it the connections that chose h2 by ALPN (`protocol` 'h2').
 */
export function createH2cServer(
  ledger: ConnectionLedger,
  options: ResolvedServerOptions,
  state: { shuttingDown: boolean },
  protocol: Extract<ConnectionProtocol, 'h2c' | 'h2'> = 'h2c',
): Http2Server {
  const server = http2.createServer();
  const body = responseBody(options.bodyBytes);
  const { keepAliveTimeout, maxRequestsPerSocket, delayUs: delay } = options;

  // Before http2's own listener, so the record exists when the session is created.
  server.prependListener('connection', (socket: LabSocket) => {
    const rec = ledger.open(protocol, socket);
    socket[kRecord] = rec;
    socket.prependListener('end', () => ledger.intend(rec, socket.writableEnded ? 'server' : 'client'));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      ledger.intend(rec, err.code === 'ECONNRESET' ? 'client' : 'error', err.code ?? 'UNKNOWN'),
    );
    socket.once('close', (hadError: boolean) => ledger.close(rec, hadError));
  });

  server.on('session', (session: LabSession) => {
    // The session's socket is a proxy that forwards plain property reads to the real socket.
    const rec = (session.socket as LabSocket)[kRecord];
    if (!rec) return;
    session[kRecord] = rec;
    session.on('goaway', () => ledger.intend(rec, 'client'));
    session.on('error', (err: NodeJS.ErrnoException) => ledger.intend(rec, 'error', err.code ?? 'UNKNOWN'));
    if (keepAliveTimeout > 0) {
      session.setTimeout(keepAliveTimeout, () => {
        ledger.intend(rec, 'idleTimeout');
        session.close();
      });
    }
  });

  server.on('sessionError', () => {
    // Recorded by the session's 'error' listener; without this listener it would throw.
  });

  // Built once: respond() copies the headers it is given, so one object serves every stream.
  const okHeaders = { ':status': 200, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length };

  const respond = (stream: ServerHttp2Stream, session: LabSession, stats: boolean, endSession: boolean): void => {
    if (stream.destroyed) return;
    if (stats) {
      const json = JSON.stringify(ledger.stats());
      stream.respond({
        ':status': 200,
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(json),
      });
      stream.end(json);
    } else {
      stream.respond(okHeaders);
      stream.end(body);
    }
    // GOAWAY after this stream: the session finishes open streams, then closes.
    if (endSession && !session.closed) session.close();
  };

  const answer = (stream: ServerHttp2Stream, session: LabSession, stats: boolean, endSession: boolean): void => {
    if (delay > 0 && !stats) delayUs(delay, () => respond(stream, session, stats, endSession));
    else respond(stream, session, stats, endSession);
  };

  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      const session = stream.session as LabSession | undefined;
      const rec = session?.[kRecord];
      if (!session || !rec) {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      const method = headers[':method'] as string | undefined;
      const path = headers[':path'] as string | undefined;
      ledger.request(rec, method, path);
      let endSession = false;
      if (maxRequestsPerSocket > 0 && rec.requests >= maxRequestsPerSocket) {
        ledger.intend(rec, 'maxRequests');
        endSession = true;
      } else if (options.close || state.shuttingDown) {
        ledger.intend(rec, 'server');
        endSession = true;
      }
      stream.on('error', ignoreStreamError);
      const stats = path === STATS_PATH;
      // A request body (no END_STREAM on the headers) is read and counted before the answer.
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) === 0) {
        let n = 0;
        stream.on('data', (chunk: Buffer) => {
          n += chunk.length;
        });
        stream.on('end', () => {
          ledger.requestEnd(rec, method, path, rawHeaders, n);
          answer(stream, session, stats, endSession);
        });
        return;
      }
      if (channels.requestEnd.hasSubscribers) ledger.requestEnd(rec, method, path, rawHeaders, 0);
      answer(stream, session, stats, endSession);
    },
  );

  return server;
}
