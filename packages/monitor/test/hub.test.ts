import { deflateSync } from 'node:zlib';
import { LatencyHistogram } from '@kalab/core';
import { decodeMessage, HubMessageSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor, resolveMonitorOptions } from '../src/index.js';
import { report, TestPeer, tcpSample, tick, until, V } from './test-peer.js';

const monitors: Monitor[] = [];
const peers: TestPeer[] = [];

async function start(o: Parameters<typeof createMonitor>[0] = {}): Promise<Monitor> {
  const m = await createMonitor({ port: 0, sampleLocalTcp: false, ...o });
  monitors.push(m);
  return m;
}

async function peer(m: Monitor, hello: Parameters<typeof TestPeer.connect>[1]): Promise<TestPeer> {
  const p = await TestPeer.connect(m.url, hello);
  peers.push(p);
  return p;
}

function raw(m: Monitor): TestPeer {
  const p = new TestPeer(m.url);
  peers.push(p);
  return p;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON of the HTTP API, asserted field by field
async function getJson(m: Monitor, path: string): Promise<any> {
  const res = await fetch(m.httpUrl + path);
  expect(res.status).toBe(200);
  return res.json();
}

afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  for (const m of monitors.splice(0)) await m.close();
});

describe('monitor hub', () => {
  it('shows a source, its totals and its host TCP states in /api/snapshot', async () => {
    const m = await start();
    const s = await peer(m, { role: 'server', name: 'srv', host: 'box-a' });
    s.send(tick(1, { requests: 42, connectionsOpened: 7 }));
    s.send(
      tcpSample(
        'box-a',
        { ESTABLISHED: 3, TIME_WAIT: 11 },
        { ephemeral: { range: [32768, 60999], inUse: 14, timeWait: 11 } },
      ),
    );
    const snap = await until(
      () => getJson(m, '/api/snapshot'),
      (j) => j.sources.length === 1 && j.sources[0].totals.requests === 42 && j.hosts['box-a'] !== undefined,
    );
    expect(snap.sources[0]).toMatchObject({
      role: 'server',
      name: 'srv',
      host: 'box-a',
      connected: true,
      lost: false,
      totals: { requests: 42, connectionsOpened: 7 },
    });
    expect(snap.hosts['box-a'].states).toEqual({ ESTABLISHED: 3, TIME_WAIT: 11 });
    expect(snap.hosts['box-a'].ephemeral).toEqual({ range: [32768, 60999], inUse: 14, timeWait: 11 });
    expect(snap.hub.peers.server).toBe(1);
    const health = await fetch(m.httpUrl + '/healthz');
    expect(await health.text()).toBe('ok\n');
    expect((await fetch(m.httpUrl + '/nope')).status).toBe(404);
  });

  it('closes with 1008 and counts: bad JSON, a schema mismatch, a message before hello, a viewer sending ticks', async () => {
    const m = await start();
    const cases: [string, (p: TestPeer) => void][] = [
      ['bad json', (p) => p.send('{not json')],
      ['tick before hello', (p) => p.send(tick(1, { requests: 1, connectionsOpened: 1 }))],
      [
        'hello with a bad role',
        (p) => p.send({ v: V, type: 'hello', role: 'root', name: 'x', host: 'y', version: '1' }),
      ],
      ['binary frame', (p) => p.ws.send(Buffer.from([1, 2, 3]))],
    ];
    for (const [what, act] of cases) {
      const p = raw(m);
      await p.opened;
      act(p);
      const closed = await p.closed;
      expect(closed.code, what).toBe(1008);
      expect(p.messages.at(-1), what).toMatchObject({ type: 'error', code: 'KALAB_ERR_PROTOCOL' });
    }
    const viewer = await peer(m, { role: 'viewer' });
    viewer.send(tick(1, { requests: 1, connectionsOpened: 1 }));
    expect((await viewer.closed).code).toBe(1008);
    const src = await peer(m, { role: 'agent' });
    src.send({ v: V, type: 'hello', role: 'agent', name: 'again', host: 'h', version: '1' });
    expect((await src.closed).code).toBe(1008);
    expect(m.stats().rejected.protocol).toBe(6);
  });

  it('names the protocol version it speaks when a peer speaks another', async () => {
    const m = await start();
    const p = raw(m);
    await p.opened;
    p.send({ v: 2, type: 'hello', role: 'viewer', name: 'n', host: 'h', version: '9' });
    expect((await p.closed).code).toBe(1008);
    expect(String(p.messages[0]?.['message'])).toMatch(/protocol version 2 is not supported \(this monitor speaks 1\)/);
  });

  it('closes an oversized message with 1009 and counts it', async () => {
    const m = await start();
    const p = await peer(m, { role: 'agent' });
    p.send('x'.repeat(1024 * 1024 + 1));
    expect((await p.closed).code).toBe(1009);
    await until(
      () => m.stats().rejected.tooLarge,
      (n) => n === 1,
    );
  });

  it('merges the sources latency histograms, and closes a source whose histogram is a bomb or garbage', async () => {
    const m = await start();
    const a = await peer(m, { role: 'agent', name: 'a' });
    const b = await peer(m, { role: 'agent', name: 'b' });
    const ha = new LatencyHistogram();
    const hb = new LatencyHistogram();
    for (let i = 0; i < 100; i++) ha.recordUs(1000); // 1 ms
    for (let i = 0; i < 100; i++) hb.recordUs(9000); // 9 ms
    a.send(tick(1, { requests: 100, connectionsOpened: 1 }, { latencyHistogram: ha.encode() }));
    b.send(tick(1, { requests: 100, connectionsOpened: 1 }, { latencyHistogram: hb.encode() }));
    const s = await until(
      () => m.snapshot(),
      (x) => x.merged.requests === 200,
    );
    expect(s.merged.latencyMs.p50).toBeCloseTo(1, 1);
    expect(s.merged.latencyMs.p99).toBeCloseTo(9, 1);
    expect(s.sources.find((x) => x.name === 'b')?.latencyMs?.p50).toBeCloseTo(9, 1);
    // A deflate bomb: 64 MiB of zeros compress to ~64 KiB.
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024));
    const head = Buffer.alloc(8);
    head.writeInt32BE(0x1c849314, 0);
    head.writeInt32BE(bomb.length, 4);
    const c = await peer(m, { role: 'agent', name: 'c' });
    c.send(
      tick(
        1,
        { requests: 1, connectionsOpened: 1 },
        { latencyHistogram: Buffer.concat([head, bomb]).toString('base64') },
      ),
    );
    expect((await c.closed).code).toBe(1008);
    const d = await peer(m, { role: 'agent', name: 'd' });
    d.send(tick(1, { requests: 1, connectionsOpened: 1 }, { latencyHistogram: 'bm90IGEgaGlzdG9ncmFt' }));
    expect((await d.closed).code).toBe(1008);
    expect(m.snapshot().merged.requests).toBe(200);
  });

  it('closes a peer that never says hello', async () => {
    const m = await start({ helloTimeoutMs: 100 });
    const p = raw(m);
    await p.opened;
    expect((await p.closed).code).toBe(1008);
    expect(m.stats().rejected.helloTimeout).toBe(1);
  });

  it('refuses sources without the token, lets viewers without it read but not run', async () => {
    const m = await start({ token: 'sesame' });
    await expect(TestPeer.connect(m.url, { role: 'agent' })).rejects.toThrow(/a token is required/);
    await expect(TestPeer.connect(m.url, { role: 'agent', token: 'sesame!' })).rejects.toThrow(/wrong token/);
    await expect(TestPeer.connect(m.url, { role: 'viewer', token: 'nope' })).rejects.toThrow(/wrong token/);
    const agent = await peer(m, { role: 'agent', token: 'sesame', name: 'a1' });
    const reader = await peer(m, { role: 'viewer' });
    await reader.next((x) => x['type'] === 'snapshot');
    reader.send({ v: V, type: 'run-start', runId: 'r1', options: { target: 'http://127.0.0.1:1/', requests: 10 } });
    expect((await reader.closed).code).toBe(1008);
    expect(reader.messages.at(-1)).toMatchObject({ type: 'error', code: 'KALAB_ERR_AUTH' });
    expect(agent.messages.some((x) => x['type'] === 'run-start')).toBe(false);
    expect(m.stats().rejected.auth).toBe(4);
  });

  it('generates a token when bound to a non-loopback interface without one', () => {
    const o = resolveMonitorOptions({ host: '0.0.0.0' });
    expect(o.tokenGenerated).toBe(true);
    expect(o.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(resolveMonitorOptions({}).token).toBeUndefined();
    expect(() => resolveMonitorOptions({ heartbeatMs: 0 })).toThrow(/options.heartbeatMs must be an integer from 50/);
  });

  it('passes a controlling viewer run-start to the first idle agent; the report sets the totals exactly', async () => {
    const m = await start({ token: 't' });
    const busy = await peer(m, { role: 'agent', token: 't', name: 'busy' });
    busy.send({
      v: V,
      type: 'run-started',
      runId: 'other',
      target: 'http://127.0.0.1:9/',
      engine: 'undici',
      config: {},
    });
    const idle = await peer(m, { role: 'agent', token: 't', name: 'idle', host: 'agent-host' });
    await until(
      () => m.snapshot().sources.find((s) => s.name === 'busy')?.runId,
      (r) => r === 'other',
    );
    const viewer = await peer(m, { role: 'viewer', token: 't' });
    viewer.send({
      v: V,
      type: 'run-start',
      runId: 'r2',
      options: { target: 'http://127.0.0.1:8080/', requests: 50, keepAlive: false },
    });
    const startMsg = await idle.next((x) => x['type'] === 'run-start');
    expect(startMsg).toMatchObject({
      runId: 'r2',
      options: { target: 'http://127.0.0.1:8080/', requests: 50, keepAlive: false },
    });
    idle.send({
      v: V,
      type: 'run-started',
      runId: 'r2',
      target: 'http://127.0.0.1:8080/',
      engine: 'undici',
      config: { keepAlive: false },
    });
    idle.send(tick(1, { requests: 20, connectionsOpened: 20 }, { runId: 'r2' }));
    await until(
      () => m.snapshot().sources.find((s) => s.name === 'idle')?.totals.requests,
      (n) => n === 20,
    );
    expect(m.snapshot().run).toMatchObject({ id: 'r2', running: true });
    viewer.send({ v: V, type: 'run-stop', runId: 'r2' });
    await idle.next((x) => x['type'] === 'run-stop');
    idle.send({ v: V, type: 'run-report', runId: 'r2', report: report('http://127.0.0.1:8080/', 50, 50) });
    const s = await until(
      () => m.snapshot(),
      (x) => x.sources.find((y) => y.name === 'idle')?.totals.requests === 50,
    );
    expect(s.sources.find((x) => x.name === 'idle')?.totals).toEqual({
      requests: 50,
      connectionsOpened: 50,
      errors: 0,
    });
    expect(s.merged.requestsPerConnection).toBe(1);
    // What viewers get is exactly the protocol's snapshot (MonitorLink viewers decode it strictly).
    const sent = await viewer.next((x) => x['type'] === 'snapshot');
    expect(() => decodeMessage(HubMessageSchema, JSON.stringify(sent))).not.toThrow();
  });

  it('tells a viewer when no agent is idle, and keeps it connected', async () => {
    const m = await start();
    const viewer = await peer(m, { role: 'viewer' });
    viewer.send({ v: V, type: 'run-start', runId: 'r', options: { target: 'http://127.0.0.1:1/', requests: 1 } });
    const err = await viewer.next((x) => x['type'] === 'error');
    expect(err).toMatchObject({ code: 'KALAB_ERR_UNREACHABLE', message: 'no agent is connected' });
    await viewer.next((x) => x['type'] === 'snapshot');
  });

  it('marks a source that stops answering pings lost within two heartbeats, and keeps its data', async () => {
    const m = await start({ heartbeatMs: 200 });
    const p = await TestPeer.connect(m.url, { role: 'agent', name: 'mute' }, { autoPong: false });
    peers.push(p);
    p.send(tick(1, { requests: 9, connectionsOpened: 3 }));
    await until(
      () => m.snapshot().sources[0]?.totals.requests,
      (n) => n === 9,
    );
    const t0 = Date.now();
    const s = await until(
      () => m.snapshot().sources[0]!,
      (x) => x.lost,
      2000,
      10,
    );
    expect(Date.now() - t0).toBeLessThanOrEqual(2 * 200 + 250);
    expect(s).toMatchObject({ connected: false, lost: true, totals: { requests: 9, connectionsOpened: 3 } });
    expect(m.stats().rejected.heartbeat).toBe(1);
  });

  it('a source that says goodbye is disconnected, not lost; reconnecting under the same name keeps its totals', async () => {
    const m = await start();
    const a = await peer(m, { role: 'server', name: 'srv' });
    a.send(tick(1, { requests: 5, connectionsOpened: 1 }));
    await until(
      () => m.snapshot().sources[0]?.totals.requests,
      (n) => n === 5,
    );
    a.close();
    await until(
      () => m.snapshot().sources[0]!,
      (s) => !s.connected,
    );
    expect(m.snapshot().sources[0]!.lost).toBe(false);
    const b = await peer(m, { role: 'server', name: 'srv' });
    // The server restarted: its totals start again from zero, the monitor keeps the old ones.
    b.send(tick(1, { requests: 2, connectionsOpened: 1 }));
    const s = await until(
      () => m.snapshot().sources,
      (x) => x[0]?.totals.requests === 7,
    );
    expect(s).toHaveLength(1);
    expect(s[0]!.connected).toBe(true);
  });

  it('a viewer that does not read skips snapshots instead of queueing them; a good viewer keeps getting them', async () => {
    const m = await start({ snapshotIntervalMs: 20, viewerBufferBytes: 1024 });
    const src = await peer(m, { role: 'server' });
    // Make snapshots big enough to fill a socket quickly.
    src.send(
      tcpSample(
        'big',
        { ESTABLISHED: 1 },
        {
          sockets: Array.from({ length: 500 }, (_, i) => ({
            local: `10.0.0.1:${i}`,
            remote: '10.0.0.2:80',
            state: 'ESTABLISHED',
          })),
        },
      ),
    );
    const slow = await peer(m, { role: 'viewer', name: 'slow' });
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const good = await peer(m, { role: 'viewer', name: 'good' });
    const before = good.messages.length;
    await until(
      () => m.stats().snapshotsSkipped,
      (n) => n > 20,
    );
    expect(good.messages.length - before).toBeGreaterThan(5);
  });
});
