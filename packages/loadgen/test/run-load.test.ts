import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ReportSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand, missing } from '../../../test/support/needs.js';
import { type LoadOptions, type LoadReport, runLoad } from '../src/index.js';
import { type CountingServer, type CountingServerOptions, startCountingServer } from './helpers/counting-server.js';

let server: CountingServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function load(
  s: CountingServerOptions,
  o: Omit<LoadOptions, 'target'>,
): Promise<{ report: LoadReport; server: CountingServer }> {
  server = await startCountingServer(s);
  const report = await runLoad({ target: server.url, ...o }).result;
  ReportSchema.parse(report);
  // Connections a client opened but never used may be accepted a moment after the run.
  await server.waitConnections(report.connections.opened);
  return { report, server };
}

describe('runLoad counts what the server counts', () => {
  it.each([
    ['the default engine (net)', {}, 'net'],
    ['--engine undici', { engine: 'undici' }, 'undici'],
  ] as Array<[string, Pick<LoadOptions, 'engine'>, string]>)(
    'keep-alive -c 8 -n 20000 opens 8 connections: %s',
    async (_what, o, engine) => {
      const { report, server } = await load({}, { ...o, connections: 8, requests: 20_000 });
      expect(report.requests.completed).toBe(20_000);
      expect(report.requests.ok).toBe(20_000);
      expect(server.requests).toBe(20_000);
      expect(report.connections.opened).toBe(8);
      expect(server.connections).toBe(8);
      expect(report.connections.reusedRequests).toBe(20_000 - 8);
      expect(report.engine).toBe(engine);
    },
  );

  it.each([
    ['the default engine (net)', {}],
    ['--engine undici', { engine: 'undici' }],
  ] as Array<[string, Pick<LoadOptions, 'engine'>]>)(
    'keep-alive against a server that closes every 100 requests: 1000 requests over 2 connections open 10 or 11: %s',
    async (_what, o) => {
      // The two connections share the budget, so one may carry 501 requests (a 6th connection for it).
      const { report, server } = await load(
        { maxRequestsPerSocket: 100 },
        { ...o, connections: 2, requests: 1000, workers: 1 },
      );
      expect(report.requests.ok).toBe(1000);
      expect(report.connections.opened).toBeGreaterThanOrEqual(10);
      expect(report.connections.opened).toBeLessThanOrEqual(11);
      expect(server.connections).toBe(report.connections.opened);
      expect(report.connections.reusedRequests).toBe(1000 - report.connections.opened);
    },
  );

  it.each([
    ['the default engine (net)', {}],
    ['--engine undici', { engine: 'undici' }],
  ] as Array<[string, Pick<LoadOptions, 'engine'>]>)(
    '-p 4 pipelines 4 requests on each of 2 connections: %s',
    async (_what, o) => {
      const { report, server } = await load({}, { ...o, connections: 2, pipelining: 4, requests: 4000, workers: 1 });
      expect(report.requests.ok).toBe(4000);
      expect(report.connections.opened).toBe(2);
      expect(server.connections).toBe(2);
      expect(server.requests).toBe(4000);
    },
  );

  it('more workers than requests: -c 10 -n 1 sends exactly 1 request', async () => {
    const { report, server } = await load({}, { connections: 10, requests: 1, workers: 4 });
    expect(report.requests.sent).toBe(1);
    expect(report.requests.ok).toBe(1);
    expect(server.requests).toBe(1);
    expect(report.config['workers']).toBe(4);
  });

  it('--no-keepalive -n 2000 opens 2000 connections (lean churn engine)', async () => {
    const { report, server } = await load({}, { connections: 8, requests: 2000, keepAlive: false });
    expect(report.requests.ok).toBe(2000);
    expect(report.connections.opened).toBe(2000);
    expect(server.connections).toBe(2000);
    expect(report.connections.reusedRequests).toBe(0);
    expect(report.config['transport']).toMatch(/churn/);
    // The report names the engine that ran, not the one asked for (undici).
    expect(report.engine).toBe('churn');
  });

  it('--no-keepalive reads chunked and 1 MiB responses to their end', async () => {
    const chunked = await load({ chunked: true }, { connections: 4, requests: 200, keepAlive: false, workers: 1 });
    expect(chunked.report.requests.ok).toBe(200);
    expect(chunked.report.requests.failed).toBe(0);
    await server?.close();
    server = null;
    const big = await load(
      { body: Buffer.alloc(1024 * 1024, 120) },
      { connections: 4, requests: 40, keepAlive: false, workers: 1 },
    );
    expect(big.report.requests.ok).toBe(40);
    expect(big.report.connections.opened).toBe(40);
  });

  it('--no-keepalive --close-by server says Connection: close and still opens one connection per request', async () => {
    const { report, server } = await load(
      {},
      { connections: 4, requests: 500, keepAlive: false, closeBy: 'server', workers: 1 },
    );
    expect(report.requests.ok).toBe(500);
    expect(report.connections.opened).toBe(500);
    expect(server.connections).toBe(500);
    expect(report.config['closeBy']).toBe('server');
  });

  it('--engine http --max-idle 2 -c 10 with request gaps opens more than 10, as many as the server saw', async () => {
    // Open model: requests arrive on a schedule, so sockets idle between them and the Agent closes all but 2.
    const { report, server } = await load(
      { delayMs: () => Math.random() * 30 },
      { engine: 'http', connections: 10, maxIdle: 2, requests: 300, rate: 300, workers: 1 },
    );
    expect(report.requests.ok).toBe(300);
    expect(report.connections.opened).toBeGreaterThan(10);
    expect(server.connections).toBe(report.connections.opened);
    expect(report.findings.map((f) => f.id)).toContain('idle-pool-too-small');
  });

  it('--engine http --max-idle 10 -c 10 with the same gaps keeps 10 connections', async () => {
    const { report, server } = await load(
      { delayMs: () => Math.random() * 30 },
      { engine: 'http', connections: 10, maxIdle: 10, requests: 300, rate: 300, workers: 1 },
    );
    expect(report.connections.opened).toBeLessThanOrEqual(10);
    expect(server.connections).toBe(report.connections.opened);
  });

  it('--engine h2c -c 1 --streams 100 (100 concurrent streams) uses 1 connection', async () => {
    const { report, server } = await load(
      { h2c: true },
      { engine: 'h2c', connections: 1, streams: 100, requests: 2000 },
    );
    expect(report.requests.ok).toBe(2000);
    expect(report.connections.opened).toBe(1);
    expect(server.connections).toBe(1);
    expect(report.connections.reusedRequests).toBe(1999);
  });
});

describe('--engine net (lean keep-alive)', () => {
  // The default engine's -c 8 -n 20000 case above is this engine's long run; asked for by name it is the same engine.
  it('asked for by name: -c 8 -n 2000 opens 8 connections', async () => {
    const { report, server } = await load({}, { engine: 'net', connections: 8, requests: 2000 });
    expect(report.engine).toBe('net');
    expect(report.requests.ok).toBe(2000);
    expect(server.requests).toBe(2000);
    expect(report.connections.opened).toBe(8);
    expect(server.connections).toBe(8);
    expect(report.connections.reusedRequests).toBe(2000 - 8);
  });

  it('reconnects when the server closes every 100 requests, pipelines, reads chunked and 1 MiB bodies', async () => {
    const closing = await load(
      { maxRequestsPerSocket: 100 },
      { engine: 'net', connections: 2, requests: 1000, workers: 1 },
    );
    expect(closing.report.requests.ok).toBe(1000);
    expect(closing.report.requests.failed).toBe(0);
    expect(closing.server.connections).toBe(closing.report.connections.opened);
    expect(closing.report.connections.opened).toBeGreaterThanOrEqual(10);
    await server?.close();
    const piped = await load({}, { engine: 'net', connections: 2, pipelining: 8, requests: 4000, workers: 1 });
    expect(piped.report.requests.ok).toBe(4000);
    expect(piped.report.connections.opened).toBe(2);
    await server?.close();
    const chunked = await load({ chunked: true }, { engine: 'net', connections: 2, requests: 500, workers: 1 });
    expect(chunked.report.requests.ok).toBe(500);
    expect(chunked.report.connections.opened).toBe(2);
    await server?.close();
    const big = await load(
      { body: Buffer.alloc(1024 * 1024, 120) },
      { engine: 'net', connections: 2, requests: 40, workers: 1 },
    );
    expect(big.report.requests.ok).toBe(40);
    expect(big.report.connections.opened).toBe(2);
  });

  it('-R paces it over its connections', async () => {
    const { report, server } = await load({}, { engine: 'net', connections: 4, requests: 200, rate: 400, workers: 1 });
    expect(report.requests.ok).toBe(200);
    expect(report.connections.opened).toBeLessThanOrEqual(4);
    expect(server.connections).toBe(report.connections.opened);
  });
});

describe('unread bodies', () => {
  it('--engine http --no-consume-body: 10 sequential requests open 10 connections', async () => {
    const { report, server } = await load({}, { engine: 'http', connections: 1, requests: 10, consumeBody: false });
    expect(report.requests.ok).toBe(10);
    expect(report.connections.opened).toBe(10);
    expect(server.connections).toBe(10);
  });

  /** Polls (bounded) until the server has no connection open: the client closed every one it held. */
  async function allClosed(srv: CountingServer): Promise<number> {
    for (let k = 0; k < 200 && srv.open > 0; k++) await new Promise((r) => setTimeout(r, 10));
    return srv.open;
  }

  it.each([
    ['11-byte', 'Hello world'],
    ['1 MiB', Buffer.alloc(1024 * 1024, 120)],
  ])(
    '--engine net --no-consume-body with the %s body: 10 sequential requests open 10 connections, all closed at the end',
    async (_what, body) => {
      const { report, server } = await load(
        { body },
        { engine: 'net', connections: 1, requests: 10, consumeBody: false },
      );
      expect(report.engine).toBe('net');
      expect(report.requests.ok).toBe(10);
      expect(report.connections.opened).toBe(10);
      expect(report.connections.reusedRequests).toBe(0);
      // Every connection stayed open, holding its unread body, until the end of the run.
      expect(report.connections.maxOpen).toBe(10);
      expect(server.connections).toBe(10);
      expect(server.requests).toBe(10);
      expect(await allClosed(server)).toBe(0);
    },
  );

  it.skipIf(missing('openssl (a test certificate)', hasCommand('openssl')))(
    'https:// --no-consume-body (net): 10 connections = 10 handshakes, 9 resumed by default, as the server counted them',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kalab-net-tls-'));
      try {
        const made = spawnSync('openssl', [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
          ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'],
          ...['-addext', 'subjectAltName=IP:127.0.0.1'],
        ]);
        expect(made.status).toBe(0);
        let accepted = 0;
        let resumed = 0;
        const open = new Set<Socket>();
        const srv = createHttpsServer(
          { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
          (_req, res) => res.end(Buffer.alloc(256 * 1024, 120)),
        );
        srv.on('secureConnection', (s: TLSSocket) => {
          accepted++;
          if (s.isSessionReused()) resumed++;
          open.add(s);
          s.once('close', () => open.delete(s));
        });
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
        try {
          const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
          const report = await runLoad({
            target: url,
            connections: 1,
            requests: 10,
            consumeBody: false,
            insecure: true,
          }).result;
          expect(report.engine).toBe('net');
          expect(report.requests.ok).toBe(10);
          expect(report.connections.opened).toBe(10);
          expect(report.tls!.handshakes).toBe(10);
          expect(report.tls!.resumeSessions).toBe(true);
          expect(accepted).toBe(10);
          expect(report.tls!.resumed).toBe(resumed);
          expect(resumed).toBe(9);
          for (let k = 0; k < 200 && open.size > 0; k++) await new Promise((r) => setTimeout(r, 10));
          expect(open.size).toBe(0);
        } finally {
          srv.closeAllConnections();
          await new Promise<void>((r) => srv.close(() => r()));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('--engine net --no-consume-body: a response without a body leaves nothing unread (1 connection for 10 requests)', async () => {
    const { report, server } = await load(
      { body: '' },
      { engine: 'net', connections: 1, requests: 10, consumeBody: false },
    );
    expect(report.requests.ok).toBe(10);
    expect(report.connections.opened).toBe(1);
    expect(report.connections.reusedRequests).toBe(9);
    expect(server.connections).toBe(1);
  });

  it('--engine net --no-consume-body -c 2 -n 1500: 1500 connections, at most 1000 held at once, all closed at the end', async () => {
    const { report, server } = await load(
      {},
      { engine: 'net', connections: 2, requests: 1500, consumeBody: false, workers: 1 },
    );
    expect(report.requests.ok).toBe(1500);
    expect(report.connections.opened).toBe(1500);
    expect(server.connections).toBe(1500);
    expect(report.connections.maxOpen).toBeGreaterThan(900);
    expect(report.connections.maxOpen).toBeLessThanOrEqual(1000 + 2);
    expect(await allClosed(server)).toBe(0);
  });

  it('--engine net --no-consume-body -R 400 -c 4 -n 100: every request on its own connection', async () => {
    const { report, server } = await load(
      {},
      { engine: 'net', connections: 4, requests: 100, rate: 400, consumeBody: false, workers: 1 },
    );
    expect(report.requests.ok).toBe(100);
    expect(report.connections.opened).toBe(100);
    expect(server.connections).toBe(100);
  });

  it('--engine undici --no-consume-body with a 1 MiB body opens more than 1 connection', async () => {
    const { report, server } = await load(
      { body: Buffer.alloc(1024 * 1024, 120) },
      { engine: 'undici', connections: 1, requests: 10, consumeBody: false },
    );
    expect(report.requests.ok).toBe(10);
    expect(report.connections.opened).toBe(10);
    expect(server.connections).toBe(10);
  });

  it('--engine undici --no-consume-body with the 11-byte body reuses connections (at most 2 for 200 sequential requests)', async () => {
    // undici parses a small body into the stream's buffer and frees the connection; see docs/loadgen.md.
    const { report, server } = await load({}, { engine: 'undici', connections: 1, requests: 200, consumeBody: false });
    expect(report.requests.ok).toBe(200);
    expect(report.connections.opened).toBeGreaterThanOrEqual(1);
    expect(report.connections.opened).toBeLessThanOrEqual(2);
    expect(server.connections).toBe(report.connections.opened);
  });
});

describe('bounds, models and stopping', () => {
  it('-d bounds a run by time', async () => {
    const { report } = await load({}, { connections: 2, durationMs: 1500, workers: 1 });
    expect(report.durationMs).toBeGreaterThanOrEqual(1400);
    expect(report.durationMs).toBeLessThan(5000);
    expect(report.requests.completed).toBeGreaterThan(0);
    expect(report.stoppedEarly).toBeUndefined();
  });

  it.each([
    ['the default engine (net)', {}],
    ['--engine undici', { engine: 'undici' }],
  ] as Array<[string, Pick<LoadOptions, 'engine'>]>)(
    '-R paces an open-model run and measures latency from the intended send time: %s',
    async (_what, o) => {
      const { report } = await load(
        { delayMs: () => 20 },
        { ...o, connections: 1, requests: 100, rate: 200, workers: 1 },
      );
      expect(report.requests.ok).toBe(100);
      // One connection, 20 ms per request, 200 req/s wanted: requests queue, and the queueing shows in the latency.
      expect(report.durationMs).toBeGreaterThan(1500);
      expect(report.latencyMs.p99).toBeGreaterThan(500);
    },
  );

  it('stop() ends a run early and still reports, with stoppedEarly', async () => {
    server = await startCountingServer();
    const run = runLoad({ target: server.url, connections: 2, durationMs: 30_000, workers: 1 });
    run.once('tick', () => run.stop());
    const report = await run.result;
    expect(report.stoppedEarly).toBe('stopped');
    expect(report.durationMs).toBeLessThan(10_000);
    expect(report.requests.completed).toBeGreaterThan(0);
  });

  it('an AbortSignal stops the run', async () => {
    server = await startCountingServer();
    const ac = new AbortController();
    const run = runLoad({ target: server.url, connections: 2, durationMs: 30_000, workers: 1, signal: ac.signal });
    run.once('start', () => setTimeout(() => ac.abort(), 300));
    const report = await run.result;
    expect(report.stoppedEarly).toBe('stopped');
  });

  it('ticks carry core TickSchema messages', async () => {
    const { TickSchema } = await import('@kalab/protocol');
    server = await startCountingServer();
    const run = runLoad({ target: server.url, connections: 2, durationMs: 1200, workers: 2, tickMs: 200 });
    const ticks: unknown[] = [];
    run.on('tick', (t) => ticks.push(t));
    await run.result;
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) TickSchema.parse(t);
  });

  it('nothing listening: ECONNREFUSED is counted and the run stops early', async () => {
    const s = await startCountingServer();
    const url = s.url;
    await s.close();
    const report = await runLoad({ target: url, connections: 2, durationMs: 20_000, workers: 1 }).result;
    ReportSchema.parse(report);
    expect(report.errors['ECONNREFUSED']).toBeGreaterThan(0);
    expect(report.connections.opened).toBe(0);
    expect(report.stoppedEarly).toBe('unreachable');
  });
});

describe('reuse is counted only for requests that got a response', () => {
  /** Answers the first request on each connection, resets the connection on the second. */
  async function firstOnlyServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const srv = createNetServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
      let seen = '';
      let answered = false;
      s.on('data', (d) => {
        seen += d.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        if (answered) s.resetAndDestroy();
        else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        answered = true;
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
      connections: () => accepted,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => srv.close(() => r()));
      },
    };
  }

  it.each([
    ['undici, a Client per connection', { engine: 'undici' }],
    ['undici behind a Pool (-R)', { engine: 'undici', rate: 200 }],
    ['node:http', { engine: 'http' }],
    ['net', { engine: 'net' }],
  ] as const)('%s: the second request on each connection is reset and not counted as reused', async (_what, o) => {
    const srv = await firstOnlyServer();
    try {
      const report = await runLoad({ target: srv.url, connections: 2, requests: 20, workers: 1, ...o }).result;
      ReportSchema.parse(report);
      expect(report.requests.ok).toBeGreaterThan(0);
      expect(report.requests.failed).toBeGreaterThan(0);
      expect(report.requests.ok + report.requests.failed).toBe(20);
      // Every ok request was a connection's first one; every reused one failed.
      expect(report.requests.ok).toBeLessThanOrEqual(report.connections.opened);
      expect(report.connections.reusedRequests).toBe(0);
    } finally {
      await srv.close();
    }
  });
});
