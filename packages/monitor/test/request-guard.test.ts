import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../src/index.js';
import { TestPeer, V } from './test-peer.js';

const monitors: Monitor[] = [];
const peers: TestPeer[] = [];

async function start(o: Parameters<typeof createMonitor>[0] = {}): Promise<Monitor> {
  const m = await createMonitor({ port: 0, sampleLocalTcp: false, heartbeatMs: 60_000, ...o });
  monitors.push(m);
  return m;
}

async function connect(m: Monitor, hello: Parameters<typeof TestPeer.connect>[1], origin?: string): Promise<TestPeer> {
  const p = await TestPeer.connect(m.url, hello, origin ? { origin } : {});
  peers.push(p);
  return p;
}

afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  for (const m of monitors.splice(0)) await m.close();
});

/** One HTTP GET over a real socket with exactly these headers (fetch would not let a test set Host). */
function get(
  m: Monitor,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: m.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A ws upgrade of /ws with these headers: the status the monitor answered (101 when it accepted). */
function upgrade(m: Monitor, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: m.port,
      path: '/ws',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Origin and Host of requests to the monitor', () => {
  it("refuses another site's page (403) while the CLI, an agent and the monitor's own page connect", async () => {
    const m = await start();
    const own = `http://127.0.0.1:${m.port}`;
    expect(await upgrade(m, { host: `127.0.0.1:${m.port}`, origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade(m, { host: `127.0.0.1:${m.port}`, origin: 'null' })).toBe(403);
    expect(await upgrade(m, { host: `127.0.0.1:${m.port}`, origin: `http://127.0.0.1:${m.port + 1}` })).toBe(403);
    expect(await upgrade(m, { host: `127.0.0.1:${m.port}`, origin: `https://127.0.0.1:${m.port}` })).toBe(403);
    expect(m.stats().refused.foreignOrigin).toBe(4);
    expect(m.stats().accepted).toBe(0);
    // No Origin: a program, not a browser.
    expect(await upgrade(m, { host: `127.0.0.1:${m.port}` })).toBe(101);
    const agent = await connect(m, { role: 'agent', name: 'a1' });
    const cli = await connect(m, { role: 'viewer', name: 'cli' });
    const page = await connect(m, { role: 'viewer', name: 'page' }, own);
    await page.next((x) => x['type'] === 'snapshot');
    // localhost and [::1] forms of a loopback monitor are its own too.
    expect(await upgrade(m, { host: `localhost:${m.port}`, origin: `http://localhost:${m.port}` })).toBe(101);
    expect(await upgrade(m, { host: `[::1]:${m.port}`, origin: `http://[::1]:${m.port}` })).toBe(101);
    expect(agent.ws.readyState).toBe(agent.ws.OPEN);
    expect(cli.ws.readyState).toBe(cli.ws.OPEN);
    expect(m.stats().refused.foreignOrigin).toBe(4);
  });

  it('gives a DNS-rebinding request (Host: evil.example) no data: 421 on /api/snapshot, /metrics and /ws', async () => {
    const m = await start();
    for (const path of ['/api/snapshot', '/metrics']) {
      const r = await get(m, path, { host: `evil.example:${m.port}` });
      expect(r.status).toBe(421);
      expect(r.body).not.toMatch(/sources|kalab_/);
    }
    // The page of the rebound name is "same origin" to the browser; the Host gives it away.
    expect(await upgrade(m, { host: `evil.example:${m.port}`, origin: `http://evil.example:${m.port}` })).toBe(421);
    expect(await upgrade(m, { host: `evil.example:${m.port}` })).toBe(421);
    expect((await get(m, '/api/snapshot', { host: `127.0.0.1:${m.port + 1}` })).status).toBe(421);
    expect(m.stats()).toMatchObject({ accepted: 0, refused: { unknownHost: 5, foreignOrigin: 0 } });
    // The names it listens on still read; liveness answers any name.
    expect((await get(m, '/api/snapshot', { host: `127.0.0.1:${m.port}` })).status).toBe(200);
    expect((await get(m, '/metrics', { host: `localhost:${m.port}` })).status).toBe(200);
    expect((await get(m, '/healthz', { host: 'evil.example' })).status).toBe(200);
    const metrics = await get(m, '/metrics', { host: `127.0.0.1:${m.port}` });
    expect(metrics.body).toContain('kalab_hub_refused_total{reason="unknownHost"} 5');
  });

  it('answers a name given with allowHosts (a Service name in front of it)', async () => {
    const m = await start({ allowHosts: ['kalab-monitor.kalab.svc'] });
    expect((await get(m, '/api/snapshot', { host: `kalab-monitor.kalab.svc:${m.port}` })).status).toBe(200);
    expect((await get(m, '/api/snapshot', { host: `kalab-monitor.other.svc:${m.port}` })).status).toBe(421);
  });

  it('a browser page may only read a tokenless monitor: listing agents or starting load closes it (1008)', async () => {
    const m = await start();
    const own = `http://127.0.0.1:${m.port}`;
    const agent = await connect(m, { role: 'agent', name: 'a1' });
    for (const msg of [
      { v: V, type: 'agents-list' },
      { v: V, type: 'run-start', runId: 'r1', options: { target: 'http://127.0.0.1:1/', requests: 10 } },
      {
        v: V,
        type: 'fanout-start',
        runId: 'r2',
        agents: 1,
        options: { target: 'http://127.0.0.1:1/', requests: 10 },
      },
    ]) {
      const page = await connect(m, { role: 'viewer', name: 'page' }, own);
      page.send(msg);
      expect((await page.closed).code).toBe(1008);
      expect(page.messages.at(-1)).toMatchObject({ type: 'error', code: 'KALAB_ERR_AUTH' });
    }
    // A browser page cannot pose as an agent or a source either.
    await expect(connect(m, { role: 'agent', name: 'fake' }, own)).rejects.toThrow(/only connect as a viewer/);
    expect(agent.messages.some((x) => x['type'] === 'run-start' || x['type'] === 'clock-ping')).toBe(false);
    expect(m.stats().rejected.auth).toBe(4);
    // The CLI (no Origin) still drives a tokenless loopback monitor.
    const cli = await connect(m, { role: 'viewer', name: 'cli' });
    cli.send({ v: V, type: 'agents-list' });
    expect(await cli.next((x) => x['type'] === 'agents')).toMatchObject({ type: 'agents' });
  });

  it("the monitor's own page with the token may list agents", async () => {
    const m = await start({ token: 'sesame' });
    await connect(m, { role: 'agent', name: 'a1', token: 'sesame' });
    const page = await connect(m, { role: 'viewer', name: 'page', token: 'sesame' }, `http://127.0.0.1:${m.port}`);
    page.send({ v: V, type: 'agents-list' });
    expect(await page.next((x) => x['type'] === 'agents')).toMatchObject({ type: 'agents' });
  });
});

describe('reads of a monitor with a token', () => {
  it('need the token: /api/snapshot and /metrics 401 without it or with a wrong one, 200 with it; counted', async () => {
    const m = await start({ token: 'sesame' });
    const host = `127.0.0.1:${m.port}`;
    for (const path of ['/api/snapshot', '/metrics']) {
      const none = await get(m, path, { host });
      expect(none.status).toBe(401);
      expect(none.body).not.toMatch(/sources|kalab_hub/);
      expect((await get(m, path, { host, authorization: 'Bearer sesame!' })).status).toBe(401);
      expect((await get(m, path, { host, authorization: 'Basic c2VzYW1l' })).status).toBe(401);
      expect((await get(m, path, { host, authorization: 'Bearer sesame' })).status).toBe(200);
    }
    const snap = JSON.parse((await get(m, '/api/snapshot', { host, authorization: 'Bearer sesame' })).body);
    expect(snap.hub.refused).toEqual({ unknownHost: 0, foreignOrigin: 0, unauthorized: 6 });
    const metrics = await get(m, '/metrics', { host, authorization: 'Bearer sesame' });
    expect(metrics.body).toContain('kalab_hub_refused_total{reason="unauthorized"} 6');
  });

  it('a ws viewer without the token is closed 1008 with KALAB_ERR_AUTH and never gets a snapshot; with it, it reads', async () => {
    const m = await start({ token: 'sesame' });
    await expect(connect(m, { role: 'viewer' })).rejects.toThrow(/KALAB_ERR_AUTH.*a token is required/);
    const bare = new TestPeer(m.url);
    peers.push(bare);
    await bare.opened;
    bare.send({ v: V, type: 'hello', role: 'viewer', name: 'v', host: 'h', version: '0' });
    expect((await bare.closed).code).toBe(1008);
    expect(bare.messages.map((x) => x['type'])).toEqual(['error']);
    expect(m.stats().rejected.auth).toBe(2);
    const ok = await connect(m, { role: 'viewer', token: 'sesame' });
    await ok.next((x) => x['type'] === 'snapshot');
  });

  it('--public-read opens reads again: snapshot, metrics and viewers without the token; control still needs it', async () => {
    const m = await start({ token: 'sesame', publicRead: true });
    const host = `127.0.0.1:${m.port}`;
    expect((await get(m, '/api/snapshot', { host })).status).toBe(200);
    expect((await get(m, '/metrics', { host })).status).toBe(200);
    const reader = await connect(m, { role: 'viewer' });
    await reader.next((x) => x['type'] === 'snapshot');
    reader.send({ v: V, type: 'agents-list' });
    expect((await reader.closed).code).toBe(1008);
    expect(m.stats().refused.unauthorized).toBe(0);
  });
});
