import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPeer } from '../../packages/monitor/test/test-peer.js';
import { KALAB, Proc } from './monitor-procs.js';

const TOKEN = 'hostile-test-token';
const SNAPSHOT_MS = 100;
const CLIENTS = 20;
const CONNECTIONS_PER_CLIENT = 50;
const BURST = 50;

interface Api {
  hub: {
    peers: Record<string, number>;
    accepted: number;
    rejected: Record<string, number>;
    process: { rss: number; heapUsed: number };
  };
}

const hello = (extra: Record<string, unknown>) =>
  JSON.stringify({ v: 1, type: 'hello', role: 'agent', name: 'evil', host: 'evil', version: '0', ...extra });
const tick = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    v: 1,
    type: 'tick',
    seq: 1,
    at: Date.now(),
    elapsedMs: 1,
    totals: { requests: 1, connectionsOpened: 1 },
    rates: { rps: 1, newConnPerSec: 1 },
    openConnections: 0,
    errors: {},
    ...extra,
  });

/** Each kind of abuse: what one hostile connection sends, as fast as it can. */
const ABUSE: Record<string, (i: number) => string[]> = {
  malformed: (i) =>
    Array.from({ length: BURST }, (_, k) =>
      k % 2 ? `{"v":1,"type":"hello",${'['.repeat(i % 50)}` : `\u0000garbage ${i} ${k} }{`,
    ),
  unauthenticated: () => [hello({}), ...Array.from({ length: BURST - 1 }, () => tick())],
  wrongToken: () => [hello({ token: 'guess' }), ...Array.from({ length: BURST - 1 }, () => tick())],
  outOfOrder: () => [...Array.from({ length: BURST - 1 }, () => tick()), hello({ token: TOKEN })],
  helloTwice: () => [hello({ token: TOKEN }), ...Array.from({ length: BURST - 1 }, () => hello({ token: TOKEN }))],
  badSchema: () => [
    hello({ token: TOKEN, name: 'evil-authed' }),
    ...Array.from({ length: BURST - 1 }, (_, k) => tick({ seq: -k, totals: { requests: 'many' } })),
  ],
  viewerTakeover: () => [
    JSON.stringify({ v: 1, type: 'hello', role: 'viewer', name: 'v', host: 'h', version: '0' }),
    ...Array.from({ length: BURST - 1 }, () =>
      JSON.stringify({ v: 1, type: 'run-start', runId: 'x', options: { target: 'http://192.0.2.1/', requests: 1 } }),
    ),
  ],
  oversized: () => ['x'.repeat(1024 * 1024 + 16)],
};
const KINDS = Object.keys(ABUSE);

async function api(base: string): Promise<Api> {
  return (await (await fetch(`${base}/api/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Api;
}

async function abuse(
  url: string,
  client: number,
): Promise<{ sent: number; connections: number; closeCodes: Record<number, number> }> {
  let sent = 0;
  const closeCodes: Record<number, number> = {};
  for (let c = 0; c < CONNECTIONS_PER_CLIENT; c++) {
    let kind = KINDS[(client + c) % KINDS.length]!;
    if (kind === 'oversized' && c % 2 === 0) kind = 'malformed'; // keep the bytes moved reasonable
    const p = new TestPeer(url);
    try {
      await p.opened;
    } catch {
      continue;
    }
    for (const frame of ABUSE[kind]!(c)) {
      if (p.ws.readyState !== p.ws.OPEN) break;
      p.ws.send(frame);
      sent++;
    }
    const closed = await Promise.race([
      p.closed,
      new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5000)),
    ]);
    p.ws.terminate();
    closeCodes[closed.code] = (closeCodes[closed.code] ?? 0) + 1;
  }
  return { sent, connections: CONNECTIONS_PER_CLIENT, closeCodes };
}

describe('monitor under hostile clients', () => {
  let monitor: Proc;
  let url = '';
  let base = '';
  const peers: TestPeer[] = [];

  beforeAll(async () => {
    // Collect garbage every 250 ms in the monitor so heapUsed measures what it keeps, not what it has yet to free.
    const gcEvery = 'data:text/javascript,setInterval(()=>globalThis.gc(),250).unref()';
    monitor = new Proc(process.execPath, [
      '--expose-gc',
      '--import',
      gcEvery,
      KALAB,
      'monitor',
      '--listen',
      '127.0.0.1:0',
      '--token',
      TOKEN,
      '--snapshot-interval',
      String(SNAPSHOT_MS),
    ]);
    url = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
    base = url.replace('ws://', 'http://').replace(/\/ws$/, '');
  });
  afterAll(() => {
    for (const p of peers) p.ws.terminate();
    monitor?.kill();
  });

  it(`${CLIENTS} clients sending thousands of bad messages: the monitor stays up, memory bounded, a good viewer keeps its snapshot rate`, async () => {
    const source = await TestPeer.connect(url, { role: 'server', name: 'good-source', token: TOKEN });
    peers.push(source);
    const viewer = await TestPeer.connect(url, { role: 'viewer', name: 'good-viewer', token: TOKEN });
    peers.push(viewer);
    let seq = 0;
    const feeding = setInterval(
      () => source.send(tick({ seq: seq++, totals: { requests: seq * 10, connectionsOpened: seq } })),
      200,
    );
    const arrivals: number[] = [];
    viewer.ws.on('message', (d) => {
      if (String(d).startsWith('{"v":1,"type":"snapshot"')) arrivals.push(Date.now());
    });
    // Warm up, then take the baseline.
    await new Promise((r) => setTimeout(r, 1500));
    const before = (await api(base)).hub.process;

    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => abuse(url, i)));
    const t1 = Date.now();
    clearInterval(feeding);

    const sent = results.reduce((a, r) => a + r.sent, 0);
    const connections = results.reduce((a, r) => a + r.connections, 0);
    const codes: Record<number, number> = {};
    for (const r of results)
      for (const [c, n] of Object.entries(r.closeCodes)) codes[Number(c)] = (codes[Number(c)] ?? 0) + n;
    expect(sent).toBeGreaterThan(5000);
    // Every hostile connection was closed by the monitor with a policy (1008) or too-big (1009) status.
    expect((codes[1008] ?? 0) + (codes[1009] ?? 0)).toBe(connections);
    expect(codes[1009]).toBeGreaterThan(0);

    // Snapshots kept coming during the attack at about the configured rate.
    const during = arrivals.filter((a) => a >= t0 && a <= t1);
    const expected = (t1 - t0) / SNAPSHOT_MS;
    let maxGap = 0;
    for (let i = 1; i < during.length; i++) maxGap = Math.max(maxGap, during[i]! - during[i - 1]!);
    console.log(
      `hostile: ${sent} messages over ${connections} connections in ${t1 - t0} ms; viewer got ${during.length} snapshots (expected ~${expected.toFixed(0)}), max gap ${maxGap} ms; close codes ${JSON.stringify(codes)}`,
    );
    expect(during.length).toBeGreaterThanOrEqual(Math.floor(expected * 0.5));
    expect(maxGap).toBeLessThan(2000);

    // Still up, nothing pending, every rejection counted, memory back near where it was.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    const after = await api(base);
    const r = after.hub.rejected;
    console.log(
      `hostile: rejected ${JSON.stringify(r)}; heapUsed ${(before.heapUsed / 1e6).toFixed(1)} → ${(after.hub.process.heapUsed / 1e6).toFixed(1)} MB, rss ${(before.rss / 1e6).toFixed(1)} → ${(after.hub.process.rss / 1e6).toFixed(1)} MB`,
    );
    expect(after.hub.peers).toMatchObject({ pending: 0, agent: 0, server: 1, viewer: 1 });
    expect(r['protocol']! + r['tooLarge']! + r['auth']!).toBe(connections);
    expect(after.hub.process.heapUsed - before.heapUsed).toBeLessThan(8 * 1024 * 1024);
    expect(after.hub.process.rss - before.rss).toBeLessThan(200 * 1024 * 1024);
    // The good source is still there, connected, counted.
    const snap = (await (
      await fetch(`${base}/api/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as {
      sources: { name: string; connected: boolean }[];
    };
    expect(snap.sources.find((s) => s.name === 'good-source')?.connected).toBe(true);
    expect(snap.sources.some((s) => s.name === 'evil-authed' && s.connected)).toBe(false);
  });
});
