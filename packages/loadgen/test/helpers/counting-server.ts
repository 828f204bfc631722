import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';

export interface CountingServer {
  url: string;
  port: number;
  connections: number;
  requests: number;
  /** Connections open now (accepted and not yet closed). */
  open: number;
  /** Resolves when the server has accepted `n` connections (bounded wait), with the count it saw. */
  waitConnections(n: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

export interface CountingServerOptions {
  body?: Buffer | string;
  /** Delay before answering, per request (ms). */
  delayMs?: () => number;
  h2c?: boolean;
  /** Answer with Transfer-Encoding: chunked (two writes). */
  chunked?: boolean;
  /** node:http maxRequestsPerSocket: the server closes each connection after this many. */
  maxRequestsPerSocket?: number;
}

/** A tiny loopback server that counts the connections it accepted and the requests it answered. */
export async function startCountingServer(o: CountingServerOptions = {}): Promise<CountingServer> {
  const body = o.body ?? 'Hello world';
  const sockets = new Set<Socket>();
  const state = { connections: 0, requests: 0 };
  const waiters: (() => void)[] = [];
  const handler = (_req: IncomingMessage | unknown, res: ServerResponse | { end(b: unknown): void }) => {
    state.requests++;
    const d = o.delayMs?.() ?? 0;
    if (o.chunked) {
      const r = res as ServerResponse;
      r.write('Hello ');
      setImmediate(() => r.end('world'));
    } else if (d > 0) setTimeout(() => res.end(body as never), d);
    else res.end(body as never);
  };
  const server: Server | Http2Server = o.h2c
    ? createH2Server({}, handler as never)
    : createServer({ keepAliveTimeout: 60_000 }, handler as never);
  server.on('connection', (s: Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    for (const w of waiters.splice(0)) w();
  });
  if (o.maxRequestsPerSocket) (server as Server).maxRequestsPerSocket = o.maxRequestsPerSocket;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    get open() {
      return sockets.size;
    },
    async waitConnections(n, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (state.connections < n && Date.now() < deadline) {
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, Math.max(1, deadline - Date.now())).unref();
        });
      }
      return state.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
