import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { establishedOnServerPort, get, getUnread, HintBlindAgent, onCleanup, startLab, waitUntil } from './helpers.js';

describe('createLabServer: the ledger equals what happened on the wire', () => {
  it('10 sequential requests whose responses are never consumed open 10 connections', async () => {
    const lab = await startLab();
    const agent = new http.Agent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    for (let i = 0; i < 10; i++) {
      const res = await getUnread(lab.url, { agent });
      expect(res.statusCode).toBe(200);
      // The body is never read: the socket stays busy, so the next request needs a new one.
    }
    await waitUntil('10 connections in the ledger', () => lab.ledger.opened === 10);
    expect(lab.stats().connections).toMatchObject({ opened: 10, open: 10, closed: 0 });
    const kernel = await establishedOnServerPort(lab.port);
    expect(kernel.count).toBe(lab.stats().connections.open);
    expect(kernel.remotePorts).toEqual(
      lab.ledger
        .openConnections()
        .map((c) => c.remotePort)
        .sort((a, b) => a - b),
    );
    // Like the article's program exiting: the client closes every connection.
    agent.destroy();
    await waitUntil('all 10 closed', () => lab.ledger.closed === 10);
    expect(lab.stats().connections.closedBy).toEqual({
      client: 10,
      idleTimeout: 0,
      maxRequests: 0,
      error: 0,
      server: 0,
    });
    expect(lab.stats().requestsPerConnection).toEqual({ mean: 1, max: 1 });
  });

  it('10 sequential requests whose responses are consumed use 1 connection', async () => {
    const lab = await startLab();
    const agent = new http.Agent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    const reused: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await get(lab.url, { agent });
      expect(r.body).toBe('Hello world');
      reused.push(r.reusedSocket);
    }
    expect(reused.filter(Boolean)).toHaveLength(9);
    expect(lab.stats()).toMatchObject({
      connections: { opened: 1, open: 1 },
      requests: { total: 10 },
      requestsPerConnection: { mean: 10, max: 10 },
    });
    expect((await establishedOnServerPort(lab.port)).count).toBe(1);
    agent.destroy();
    await waitUntil('the connection closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.client).toBe(1);
  });

  it('a client holding 5 keep-alive connections opens 5, and open matches the kernel table', async () => {
    const lab = await startLab();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    onCleanup(() => agent.destroy());
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all(Array.from({ length: 5 }, () => get(lab.url, { agent })));
      expect(results.every((r) => r.status === 200)).toBe(true);
    }
    expect(lab.stats()).toMatchObject({ connections: { opened: 5, open: 5, closed: 0 }, requests: { total: 20 } });
    const kernel = await establishedOnServerPort(lab.port);
    expect(kernel.count).toBe(5);
    expect(kernel.remotePorts).toEqual(
      lab.ledger
        .openConnections()
        .map((c) => c.remotePort)
        .sort((a, b) => a - b),
    );
  });

  it('maxRequestsPerSocket 5 with 50 sequential keep-alive requests opens 10 connections, closed for maxRequests', async () => {
    const lab = await startLab({ maxRequestsPerSocket: 5 });
    const agent = new http.Agent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    const closes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await get(lab.url, { agent });
      if (r.headers.connection === 'close') closes.push(String(i));
    }
    expect(closes).toHaveLength(10);
    await waitUntil('9 closed connections', () => lab.ledger.closed >= 9);
    const s = lab.stats();
    expect(s.connections.opened).toBe(10);
    expect(s.connections.closedBy.maxRequests).toBeGreaterThanOrEqual(9);
    expect(s.connections.closedBy.maxRequests).toBe(s.connections.closed);
    expect(s.requestsPerConnection).toEqual({ mean: 5, max: 5 });
  });

  it('keepAliveTimeout 200 with 500 ms gaps closes each connection for idleTimeout', async () => {
    const lab = await startLab({ keepAliveTimeout: 200 });
    const agent = new HintBlindAgent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    for (let i = 0; i < 4; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      expect((await get(lab.url, { agent })).status).toBe(200);
    }
    await waitUntil('4 idle timeouts', () => lab.ledger.closedBy.idleTimeout === 4);
    const s = lab.stats();
    expect(s.connections).toMatchObject({ opened: 4, open: 0, closed: 4 });
    // The server's idle timer is the configured 200 ms (node's hidden extra second is taken out).
    for (const c of lab.ledger.recentlyClosed()) expect(c.closedAt! - c.openedAt).toBeLessThan(1000);
  });

  it('a keep-alive client within keepAliveTimeout reuses its one connection', async () => {
    const lab = await startLab({ keepAliveTimeout: 2000 });
    const agent = new HintBlindAgent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await get(lab.url, { agent });
    }
    expect(lab.stats().connections).toMatchObject({ opened: 1, open: 1, closed: 0 });
  });

  it('GET /_kalab/stats answers the docs/server.md JSON and counts itself like any request', async () => {
    const lab = await startLab();
    const agent = new http.Agent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    await get(lab.url, { agent });
    await get(lab.url, { agent });
    const r = await get(`${lab.url}/_kalab/stats`, { agent });
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      connections: {
        opened: 1,
        open: 1,
        closed: 0,
        closedBy: { client: 0, idleTimeout: 0, maxRequests: 0, error: 0, server: 0 },
      },
      requests: { total: 3 },
      requestsPerConnection: { mean: 3, max: 3 },
    });
  });

  it('--close answers Connection: close and every connection is closed by the server', async () => {
    const lab = await startLab({ close: true });
    const agent = new http.Agent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    for (let i = 0; i < 3; i++) expect((await get(lab.url, { agent })).headers.connection).toBe('close');
    await waitUntil('3 closed', () => lab.ledger.closed === 3);
    expect(lab.stats().connections).toMatchObject({ opened: 3, closedBy: { server: 3, client: 0 } });
  });

  it('a request asking for Connection: close is recorded as closed by the client', async () => {
    const lab = await startLab();
    await get(lab.url, { agent: false, headers: { connection: 'close' } });
    await waitUntil('closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.client).toBe(1);
  });

  it('shutdown closes idle keep-alive connections and finishes in-flight ones, all closed by the server', async () => {
    const lab = await startLab({ delayUs: 300_000 });
    const agent = new HintBlindAgent({ keepAlive: true });
    onCleanup(() => agent.destroy());
    await Promise.all([get(lab.url, { agent }), get(lab.url, { agent }), get(lab.url, { agent })]);
    expect(lab.stats().connections.open).toBe(3);
    const inFlight = get(lab.url, { agent });
    await waitUntil('the 4th request arrived', () => lab.ledger.requests === 4);
    const stats = await lab.close({ graceMs: 5000 });
    const last = await inFlight;
    expect(last.status).toBe(200);
    expect(last.headers.connection).toBe('close');
    expect(stats.connections).toMatchObject({ opened: 3, open: 0, closed: 3, closedBy: { server: 3 } });
  });

  it('--delay-us delays each response at least that long; --body-bytes sets the body size', async () => {
    const lab = await startLab({ delayUs: 30_000, bodyBytes: 100_000 });
    const t0 = process.hrtime.bigint();
    const r = await get(lab.url, { agent: false });
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeGreaterThanOrEqual(30);
    expect(r.body.length).toBe(100_000);
    expect(r.body.startsWith('Hello world\n')).toBe(true);
  });
});
