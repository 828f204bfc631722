import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket as NetSocket, type Socket } from 'node:net';
import { channels } from './channels.js';
import type { ConnectionLedger, ConnectionRecord } from './connection-ledger.js';
import { HELLO_BODY, STATS_PATH } from './defaults.js';
import type { ResolvedServerOptions } from './options.js';
import { delayUs } from './response-delay.js';

/** Where each socket keeps its ledger record (set once per connection). */
export const kRecord = Symbol('kalab.connection');
type LabSocket = Socket & { [kRecord]?: ConnectionRecord };

/**
 * Node 20.20 arms the idle timer at keepAliveTimeout + 1 s (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER,
 * not configurable) to make the client's reuse race rarer. The lab must reproduce that race
 * at the configured time, like Go's IdleTimeout, so it takes the padding back out.
 */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;

const CANNED: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/** net.Socket's own setTimeout (TLS sockets inherit it), under the keep-alive wrapper below. */
const SOCKET_SET_TIMEOUT = NetSocket.prototype.setTimeout;

/**
 * Bodies up to this size are sent as a string: node:http then writes head and body in one
 * string write, while a Buffer body costs a second chunk (writev) per response.
 */
const STRING_BODY_MAX = 1024;

export function responseBody(bodyBytes: number | null): Buffer {
  if (bodyBytes === null) return Buffer.from(HELLO_BODY);
  const body = Buffer.alloc(bodyBytes);
  // Repeat the article's text so a large body is still readable in a capture.
  const text = Buffer.from(`${HELLO_BODY}\n`);
  for (let i = 0; i < bodyBytes; i += text.length) text.copy(body, i, 0, Math.min(text.length, bodyBytes - i));
  return body;
}

/** Wires the ledger into a node:http server: connection, request, error and close hooks. */
export function instrumentHttp1(
  server: Server,
  ledger: ConnectionLedger,
  options: ResolvedServerOptions,
  state: { shuttingDown: boolean },
): void {
  const bytes = responseBody(options.bodyBytes);
  const body: string | Buffer = bytes.length <= STRING_BODY_MAX ? bytes.toString('latin1') : bytes;
  const okHeaders = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(bytes.length)];
  const closeHeaders = [...okHeaders, 'Connection', 'close'];
  const { keepAliveTimeout, maxRequestsPerSocket, delayUs: delay } = options;
  const closeAll = options.close;
  const padded = keepAliveTimeout + NODE_KEEP_ALIVE_BUFFER_MS;

  // The per-connection hooks are shared functions (`this` is the socket), so a connection
  // costs its ledger record and no closures: with churn, every request is a new connection.
  // The peer's FIN, seen before node's own 'end' handler answers it with ours. If the
  // server had already ended its side (Connection: close), the FIN only answers ours.
  function onEnd(this: LabSocket): void {
    ledger.intend(this[kRecord]!, this.writableEnded ? 'server' : 'client');
  }
  // node:http's socketOnTimeout (registered before us) destroys an idle keep-alive socket.
  function onTimeout(this: LabSocket): void {
    if (this.destroyed) ledger.intend(this[kRecord]!, 'idleTimeout');
  }
  // 'close' comes once per socket, and ledger.close() counts a record once.
  function onClose(this: LabSocket, hadError: boolean): void {
    ledger.close(this[kRecord]!, hadError);
  }
  // node:http calls socket.setTimeout twice per keep-alive request (0 when a request
  // arrives, keepAliveTimeout + 1 s after its response): one shared wrapper, no closure.
  function setTimeoutUnpadded(this: Socket, ms: number, cb?: () => void): Socket {
    return SOCKET_SET_TIMEOUT.call(this, ms === padded ? keepAliveTimeout : ms, cb);
  }

  server.on('connection', (socket: LabSocket) => {
    socket[kRecord] = ledger.open('http1', socket);
    socket.prependListener('end', onEnd);
    socket.on('timeout', onTimeout);
    socket.on('close', onClose);
    if (keepAliveTimeout > 0) socket.setTimeout = setTimeoutUnpadded as Socket['setTimeout'];
  });

  // Parse errors, headers/request timeouts and resets: record the reason, then answer the
  // way node:http does by default (400/408/413/431 and destroy). The server stays up.
  // A reset is the client hanging up abortively (wrk does it to busy connections when it stops).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: LabSocket) => {
    const rec = socket[kRecord];
    const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
    if (rec) ledger.intend(rec, code === 'ECONNRESET' ? 'client' : 'error', code);
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.write(CANNED[code] ?? BAD_REQUEST);
    }
    socket.destroy(err);
  });

  // Pipelined requests beyond maxRequestsPerSocket get node's 503 without a 'request' event.
  server.on('dropRequest', (req: IncomingMessage, socket: LabSocket) => {
    const rec = socket[kRecord];
    if (rec) ledger.request(rec, req.method, req.url);
  });

  const send = (res: ServerResponse, close: boolean): void => {
    // A shutdown that began during the delay also ends this connection.
    res.writeHead(200, close || state.shuttingDown ? closeHeaders : okHeaders);
    res.end(body, 'latin1');
  };

  const answer = (req: IncomingMessage, res: ServerResponse, close: boolean): void => {
    if (req.url === STATS_PATH) {
      const json = JSON.stringify(ledger.stats());
      res.writeHead(200, [
        'Content-Type',
        'application/json',
        'Cache-Control',
        'no-store',
        'Content-Length',
        String(Buffer.byteLength(json)),
        ...(close ? ['Connection', 'close'] : []),
      ]);
      res.end(json);
      return;
    }
    if (delay > 0) delayUs(delay, () => send(res, close));
    else send(res, close);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const rec = (req.socket as LabSocket)[kRecord]!;
    ledger.request(rec, req.method, req.url);
    const close = closeAll || state.shuttingDown;
    if (!res.shouldKeepAlive) ledger.intend(rec, 'client');
    else if (maxRequestsPerSocket > 0 && rec.requests >= maxRequestsPerSocket) ledger.intend(rec, 'maxRequests');
    else if (close) ledger.intend(rec, 'server');
    // Every method is answered; a body is read (and counted) to its end first. A request
    // without one takes the fast path (no listeners, no closures) unless someone listens
    // to request-end. (node:http has built req.headers already: it checks Host on HTTP/1.1.)
    const h = req.headers;
    if ((h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined) {
      readBody(req, res, rec, close);
      return;
    }
    if (channels.requestEnd.hasSubscribers) ledger.requestEnd(rec, req.method, req.url, req.rawHeaders, 0);
    if (delay > 0 || req.url === STATS_PATH) {
      answer(req, res, close);
      return;
    }
    // The common case inline, as a bare node:http handler writes it: precomputed header
    // array, the body as a latin1 string (head and body leave in one write).
    res.writeHead(200, close ? closeHeaders : okHeaders);
    res.end(body, 'latin1');
  });

  const readBody = (req: IncomingMessage, res: ServerResponse, rec: ConnectionRecord, close: boolean): void => {
    let n = 0;
    req.on('data', (chunk: Buffer) => {
      n += chunk.length;
    });
    req.on('end', () => {
      ledger.requestEnd(rec, req.method, req.url, req.rawHeaders, n);
      answer(req, res, close);
    });
  };
}
