import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { BadOptionError, filterByPort, readTcpTable } from '@kalab/core';
import { ReportSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoadOptions, type LoadReport, runLoad } from '../src/index.js';
import { optionsFromFlags, resolveOptions } from '../src/options.js';
import { errorCode } from '../src/worker-stats.js';

/** A loopback server that accepts and answers only some requests (or none); its sockets are tracked so close() never waits. */
interface StallServer {
  url: string;
  /** Requests (HTTP/1.1) or streams (h2c) the server received. */
  received: number;
  answered: number;
  /** Connections accepted, and how each ended: with the client's FIN, or a reset. */
  accepted: number;
  ends: number;
  resets: number;
  /** Resolves when every accepted connection is closed (bounded: resolves anyway after `ms`), with the number still open. */
  waitAllClosed(ms?: number): Promise<number>;
  close(): Promise<void>;
}

type Kind = 'silent' | 'every-other';

let server: StallServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function listen(
  srv: Server | Http2Server | ReturnType<typeof createNetServer>,
  sockets: Set<Socket>,
  state: { received: number; answered: number },
): Promise<StallServer> {
  const conn = { accepted: 0, ends: 0, resets: 0 };
  const waiters = new Set<() => void>();
  srv.on('connection', (s: Socket) => {
    conn.accepted++;
    sockets.add(s);
    s.on('error', () => {
      conn.resets++;
    });
    s.once('end', () => {
      conn.ends++;
    });
    s.once('close', () => {
      sockets.delete(s);
      if (sockets.size === 0) for (const w of waiters) w();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    get received() {
      return state.received;
    },
    get answered() {
      return state.answered;
    },
    get accepted() {
      return conn.accepted;
    },
    get ends() {
      return conn.ends;
    },
    get resets() {
      return conn.resets;
    },
    waitAllClosed: (ms = 5000) =>
      new Promise<number>((resolve) => {
        if (sockets.size === 0) return resolve(0);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(sockets.size);
        };
        const timer = setTimeout(done, ms);
        waiters.add(done);
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

/** HTTP/1.1: 'silent' accepts TCP and never writes a byte; 'every-other' answers the 1st, 3rd, 5th... request. */
async function startHttp1(kind: Kind): Promise<StallServer> {
  const sockets = new Set<Socket>();
  const state = { received: 0, answered: 0 };
  if (kind === 'silent') {
    const srv = createNetServer((s) => s.resume());
    return listen(srv, sockets, state);
  }
  const srv = createServer((_req: IncomingMessage, res: ServerResponse) => {
    if (state.received++ % 2 === 0) {
      state.answered++;
      res.end('Hello world');
    }
  });
  return listen(srv, sockets, state);
}

/** h2c: a node:http2 server that never responds to streams ('silent') or to every second one. */
async function startH2c(kind: Kind): Promise<StallServer> {
  const sockets = new Set<Socket>();
  const state = { received: 0, answered: 0 };
  const srv = createH2Server();
  srv.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => {});
    if (kind === 'every-other' && state.received % 2 === 0) {
      state.answered++;
      stream.respond({ ':status': 200 });
      stream.end('Hello world');
    }
    state.received++;
  });
  srv.on('sessionError', () => {});
  return listen(srv, sockets, state);
}

const ENGINES: [string, Omit<LoadOptions, 'target'>, (k: Kind) => Promise<StallServer>][] = [
  ['undici', { engine: 'undici' }, startHttp1],
  ['http', { engine: 'http' }, startHttp1],
  ['net', { engine: 'net' }, startHttp1],
  ['churn (keepAlive: false)', { keepAlive: false }, startHttp1],
  // One stream per session, as the HTTP/1.1 engines carry one request per connection here.
  ['h2c', { engine: 'h2c', streams: 1 }, startH2c],
];

async function run(
  start: (k: Kind) => Promise<StallServer>,
  kind: Kind,
  o: Omit<LoadOptions, 'target'>,
): Promise<{ report: LoadReport; wallMs: number }> {
  server = await start(kind);
  const t0 = performance.now();
  const report = await runLoad({ target: server.url, requests: 5, timeoutMs: 500, workers: 1, tickMs: 200, ...o })
    .result;
  const wallMs = performance.now() - t0;
  ReportSchema.parse(report);
  return { report, wallMs };
}

describe('--timeout: a run bounded by -n against a server that never answers ends by itself', () => {
  it.each(ENGINES)(
    '%s: -n 5 -c 5 --timeout 500ms, silent server: 5 x ETIMEDOUT, connections destroyed',
    async (_name, o, start) => {
      const { report, wallMs } = await run(start, 'silent', { ...o, connections: 5 });
      expect(report.requests.sent).toBe(5);
      expect(report.requests.completed).toBe(0);
      expect(report.requests.failed).toBe(5);
      expect(report.errors).toEqual({ ETIMEDOUT: 5 });
      // Each engine's own connections: -c 5 of them (h2c: 5 sessions).
      expect(report.connections.opened).toBe(5);
      // Every timed-out connection was destroyed by the client.
      expect(await server!.waitAllClosed()).toBe(0);
      expect(report.config['timeoutMs']).toBe(500);
      expect(report.stoppedEarly).toBeUndefined();
      // All five wait in parallel: one timeout (plus a watchdog tick, worker start-up, a noisy machine).
      expect(wallMs).toBeLessThan(10_000);
    },
  );

  it.each(ENGINES)(
    '%s: -n 5 -c 1 --timeout 500ms, every other request answered: 3 ok, 2 x ETIMEDOUT, a new connection after each',
    async (_name, o, start) => {
      const { report, wallMs } = await run(start, 'every-other', { ...o, connections: 1 });
      expect(report.requests.sent).toBe(5);
      expect(report.requests.ok).toBe(3);
      expect(report.requests.failed).toBe(2);
      expect(report.errors).toEqual({ ETIMEDOUT: 2 });
      expect(server!.answered).toBe(3);
      expect(server!.received).toBe(5);
      // Keep-alive: the first connection, and one after each timed-out request (whose connection
      // was destroyed). Churn: one per request anyway.
      const expected = _name.startsWith('churn') ? 5 : 3;
      expect(report.connections.opened).toBe(expected);
      expect(server!.accepted).toBe(expected);
      expect(await server!.waitAllClosed()).toBe(0);
      expect(wallMs).toBeLessThan(15_000);
    },
  );
});

describe('h2c ends its sessions gracefully', () => {
  it('at the end of the run: GOAWAY then FIN (the server sees an end, no reset), within the bounded wait', async () => {
    server = await startH2cAnswering();
    const report = await runLoad({
      target: server.url,
      engine: 'h2c',
      connections: 1,
      streams: 4,
      requests: 40,
      workers: 1,
    }).result;
    ReportSchema.parse(report);
    expect(report.requests.ok).toBe(40);
    expect(report.connections.opened).toBe(1);
    expect(await server.waitAllClosed()).toBe(0);
    expect(server.ends).toBe(1);
    expect(server.resets).toBe(0);
  });

  it('with streams still in flight at the bound: they are cancelled and the session still ends with a FIN, not a reset', async () => {
    // destroy() right away here sent a RST (no TIME_WAIT on either side, the server's read failing with ECONNRESET).
    server = await startH2c('silent');
    const t0 = performance.now();
    const report = await runLoad({
      target: server.url,
      engine: 'h2c',
      connections: 1,
      streams: 4,
      durationMs: 300,
      workers: 1,
    }).result;
    ReportSchema.parse(report);
    expect(report.requests.sent).toBe(4);
    expect(report.requests.failed).toBe(0);
    expect(report.connections.opened).toBe(1);
    expect(await server.waitAllClosed()).toBe(0);
    expect(server.ends).toBe(1);
    expect(server.resets).toBe(0);
    // A FIN-closed connection leaves a TIME_WAIT on one side (with a RST there is none).
    const port = Number(new URL(server.url).port);
    expect(await timeWaits(port)).toBe(1);
    // The bound, the 2 s grace for in-flight requests, and a close that did not wait for its 1 s bound.
    expect(performance.now() - t0).toBeLessThan(8000);
  });
});

/** TIME_WAIT sockets on `port` (either side), polled briefly: the last ACK may still be on its way. */
async function timeWaits(port: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < 20 && n === 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    n = filterByPort(await readTcpTable(), port).filter((t) => t.state === 'TIME_WAIT').length;
  }
  return n;
}

async function startH2cAnswering(): Promise<StallServer> {
  const sockets = new Set<Socket>();
  const state = { received: 0, answered: 0 };
  const srv = createH2Server();
  srv.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => {});
    state.received++;
    state.answered++;
    stream.respond({ ':status': 200 });
    stream.end('Hello world');
  });
  srv.on('sessionError', () => {});
  return listen(srv, sockets, state);
}

describe('--timeout validation and codes', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 3_600_001])(
    'timeoutMs %s throws BadOptionError naming --timeout',
    (v) => {
      expect(() => runLoad({ target: 'http://127.0.0.1:9/', timeoutMs: v })).toThrow(BadOptionError);
      expect(() => runLoad({ target: 'http://127.0.0.1:9/', timeoutMs: v })).toThrow(/^--timeout must be a duration/);
    },
  );

  it('--timeout takes a duration, a plain number in seconds (as -d), and defaults to 10 s', () => {
    expect(optionsFromFlags('http://127.0.0.1:9/', { timeout: '500ms' }).timeoutMs).toBe(500);
    expect(optionsFromFlags('http://127.0.0.1:9/', { timeout: '2' }).timeoutMs).toBe(2000);
    expect(resolveOptions({ target: 'http://127.0.0.1:9/' }).timeoutMs).toBe(10_000);
    expect(() => optionsFromFlags('http://127.0.0.1:9/', { timeout: 'later' })).toThrow(
      /^--timeout must be a duration/,
    );
    // Connects never wait longer than a request may.
    expect(resolveOptions({ target: 'http://127.0.0.1:9/', timeoutMs: 300 }).connectTimeoutMs).toBe(300);
  });

  it("undici's own timeout errors count as ETIMEDOUT", () => {
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']) {
      expect(errorCode(Object.assign(new Error('x'), { code }))).toBe('ETIMEDOUT');
    }
  });
});
