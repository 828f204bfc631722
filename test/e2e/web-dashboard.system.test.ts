/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../packages/monitor/src/index.js';
import { launchChromium, noChromium, pageMetrics, valueAt, watchPage } from '../support/browser.js';
import { kalab, type Proc } from './monitor-procs.js';

const SHOT_DIR = join(tmpdir(), 'kalab-web-screenshots');

const snapshotOf = async (m: Monitor) =>
  (await fetch(`${m.httpUrl}/api/snapshot`)).json() as Promise<Record<string, unknown>>;
/** The snapshot without what moves on its own between two reads of a still picture. */
const still = (s: Record<string, unknown>) =>
  JSON.stringify({
    ...s,
    at: 0,
    hub: 0,
    history: 0,
    sources: (s['sources'] as { lastSeen: number }[]).map((x) => ({ ...x, lastSeen: 0 })),
  });

describe.skipIf(noChromium())('the web dashboard in a real browser (Debian chromium, puppeteer-core)', () => {
  let browser: Browser;
  let monitor: Monitor;
  let dir: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kalab-web-'));
    // No local TCP sampler: once the server and the loadgen are gone, the picture stands still,
    // so the page and /api/snapshot can be compared number by number.
    monitor = await createMonitor({ port: 0, sampleLocalTcp: false, recordDir: dir });
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const p of procs) p.kill();
    await browser?.close();
    await monitor?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openLive(): Promise<{ page: Page; seen: Awaited<ReturnType<typeof watchPage>> }> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1100 });
    const seen = await watchPage(page);
    await page.goto(`${monitor.httpUrl}/`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', { timeout: 15_000 });
    return { page, seen };
  }

  it('live page during kalab loadgen against kalab server: charts get points, no request leaves the monitor, every data-metric equals /api/snapshot and the report', async () => {
    const server = kalab(['server', '--port', '0', '--monitor', monitor.url]);
    procs.push(server);
    const target = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
    const { page, seen } = await openLive();

    const load = kalab([
      'loadgen',
      target,
      '-c',
      '4',
      '-d',
      '4s',
      '--monitor',
      monitor.url,
      '--name',
      'web-load',
      '--json',
    ]);
    procs.push(load);
    expect(await load.exited).toBe(0);
    const report = JSON.parse(load.stdout.trim().split('\n').pop()!);

    // The sources are gone: wait until two reads of /api/snapshot 1.5 s apart agree.
    server.kill('SIGINT');
    await server.exited;
    let before = still(await snapshotOf(monitor));
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      const now = still(await snapshotOf(monitor));
      if (now === before) break;
      before = now;
    }
    const snap = await snapshotOf(monitor);
    expect((snap['merged'] as { requests: number }).requests).toBe(report.requests.completed);
    expect(still(snap)).toBe(before);
    // A snapshot taken after ours has reached the page.
    await page.waitForFunction(
      (at) => Number(document.querySelector('[data-metric="at"]')?.textContent) > at,
      { timeout: 10_000 },
      snap['at'] as number,
    );
    const metrics = await pageMetrics(page);

    const paths = metrics.map(([p]) => p);
    for (const p of [
      'merged.requests',
      'merged.connectionsOpened',
      'merged.latencyMs.p99',
      'merged.rps',
      'sources[0].totals.requests',
    ])
      expect(paths).toContain(p);
    for (const [path, text] of metrics) {
      if (path === 'at') continue;
      expect(text, path).toBe(String(valueAt(snap, path)));
    }
    // The page agrees with the loadgen's own report.
    const shown = Object.fromEntries(metrics);
    expect(Number(shown['merged.requests'])).toBe(report.requests.completed);
    expect(Number(shown['merged.connectionsOpened'])).toBe(report.connections.opened);
    expect(report.requests.completed).toBeGreaterThan(0);

    // Charts: throughput and latency have points, one TCP-state chart per sampled host.
    const points = await page.$$eval('[data-points]', (els) =>
      els.map((e) => [e.id, Number((e as HTMLElement).dataset['points'])] as const),
    );
    const byId = Object.fromEntries(points);
    const peak = (id: string) => page.$eval(`#${id}`, (e) => Number((e as HTMLElement).dataset['peak']));
    // The run's rates are in the throughput chart's 120-point history, latency in the page's ring.
    expect(await peak('chart-throughput')).toBeGreaterThan(0);
    expect(await peak('chart-latency')).toBeGreaterThan(0);
    expect(await peak('chart-states-0')).toBeGreaterThan(0);
    expect(byId['chart-throughput']).toBeGreaterThanOrEqual(4);
    expect(byId['chart-latency']).toBeGreaterThanOrEqual(2);
    expect(byId['chart-states-0']).toBeGreaterThanOrEqual(2);

    const origin = new URL(monitor.httpUrl);
    for (const u of seen.urls) expect(new URL(u).host, u).toBe(origin.host);
    expect(seen.urls.some((u) => u.startsWith('ws://'))).toBe(true);
    expect(seen.errors).toEqual([]);
    await page.screenshot({ path: join(shotDir(), 'live.png'), fullPage: true });
    await page.close();
  });

  it('an HTML report opened from a file: loads nothing, and every data-metric equals kalab report --json', async () => {
    const file = readdirSync(dir).find((f) => f.endsWith('.jsonl'));
    expect(file).toBeDefined();
    const rec = join(dir, file!);
    const html = join(dir, 'run.html');
    const made = kalab(['report', rec, '--html', html]);
    expect(await made.exited).toBe(0);
    const json = kalab(['report', rec, '--json']);
    expect(await json.exited).toBe(0);
    const report = JSON.parse(json.stdout);

    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1100 });
    const seen = await watchPage(page);
    const url = pathToFileURL(html).href;
    await page.goto(url);
    const metrics = await pageMetrics(page);
    const paths = metrics.map(([p]) => p);
    for (const p of ['requests.ok', 'connections.opened', 'latencyMs.p99', 'throughput.rps'])
      expect(paths).toContain(p);
    for (const [path, text] of metrics) expect(text, path).toBe(String(valueAt(report, path)));
    expect(metrics.length).toBeGreaterThan(25);
    expect(
      await page.$eval('#chart-throughput', (e) => Number((e as HTMLElement).dataset['points'])),
    ).toBeGreaterThanOrEqual(2);
    expect(seen.urls).toEqual([url]);
    expect(seen.errors).toEqual([]);
    await page.screenshot({ path: join(shotDir(), 'report.png'), fullPage: true });
    await page.close();
  });

  it('a viewer that never reads (not even pings) is dropped by the heartbeat, while the page and /api/snapshot keep going', async () => {
    const { page } = await openLive();
    const before = monitor.stats();
    // A ws viewer with a 4 KiB receive buffer that subscribes at 100 ms and never reads again.
    const stuck = spawn('python3', ['-c', NEVER_READS, String(monitor.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        stuck.stdout.once('data', () => resolve());
        stuck.once('exit', (c) => reject(new Error(`python client exited ${c}`)));
      });
      expect(monitor.stats().peers.viewer).toBe(before.peers.viewer + 1);
      // It never answers a ping: two heartbeats (5 s each) later the monitor closes it.
      const t0 = Date.now();
      const dropped = () => monitor.stats().peers.viewer === before.peers.viewer;
      while (!dropped() && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));
      expect(monitor.stats().rejected.heartbeat).toBe(before.rejected.heartbeat + 1);
      expect(monitor.stats().peers.viewer).toBe(before.peers.viewer);
      // Meanwhile the page got fresh snapshots, and the HTTP API answers at once.
      const at = Number(await page.$eval('[data-metric="at"]', (e) => e.textContent));
      await page.waitForFunction(
        (a) => Number(document.querySelector('[data-metric="at"]')?.textContent) >= a + 2000,
        { timeout: 10_000 },
        at,
      );
      expect((await fetch(`${monitor.httpUrl}/api/snapshot`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    } finally {
      stuck.kill('SIGKILL');
      await page.close();
    }
  });

  it('with a token: the page without it shows the token prompt and no data; with it, data', async () => {
    const guarded = await createMonitor({ port: 0, sampleLocalTcp: false, token: 'web-test-token' });
    try {
      const r = await fetch(`${guarded.httpUrl}/api/snapshot`);
      expect(r.status).toBe(401);
      const page = await browser.newPage();
      const seen = await watchPage(page);
      await page.goto(`${guarded.httpUrl}/`);
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
      expect(await page.$$eval('[data-metric]', (els) => els.length)).toBe(0);
      expect(await page.$eval('main', (e) => getComputedStyle(e).display)).toBe('none');
      await page.type('#token-form input[name="token"]', 'web-test-token');
      await page.click('#token-form button');
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', { timeout: 15_000 });
      expect(await page.$eval('[data-metric="merged.requests"]', (e) => e.textContent)).toBe('0');
      expect(await page.$eval('#token-form', (e) => (e as HTMLFormElement).hidden)).toBe(true);
      // The token never travels in a URL.
      for (const u of seen.urls) expect(u).not.toContain('web-test-token');
      expect(seen.errors.filter((e) => !/401/.test(e))).toEqual([]);
      await page.close();
    } finally {
      await guarded.close();
    }
  });
});

/** Screenshots go to the OS temp dir (never committed); KALAB_WEB_SHOTS names another folder. */
function shotDir(): string {
  const d = process.env['KALAB_WEB_SHOTS'] ?? SHOT_DIR;
  mkdirSync(d, { recursive: true });
  return d;
}

/** A ws client that never reads after its hello: a tiny SO_RCVBUF makes the monitor's send side fill up. */
const NEVER_READS = `
import base64, json, os, socket, struct, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\\r\\nHost: 127.0.0.1:" + sys.argv[1] + "\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
  "Sec-WebSocket-Key: " + key + "\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n").encode())
buf = b""
while b"\\r\\n\\r\\n" not in buf: buf += s.recv(1)
def frame(obj):
  data = json.dumps(obj).encode(); mask = os.urandom(4)
  head = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(data)))
  return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
s.sendall(frame({"v": 1, "type": "hello", "role": "viewer", "name": "stuck", "host": "test", "version": "0"}))
s.sendall(frame({"v": 1, "type": "subscribe", "intervalMs": 100}))
print("subscribed", flush=True)
time.sleep(120)
`;
