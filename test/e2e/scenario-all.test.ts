import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canUnshareNet, missing } from '../support/needs.js';

const BIN = fileURLToPath(new URL('../../apps/cli/bin/kalab.js', import.meta.url));
const noNamespace = missing(
  'a private network namespace with its loopback up (unshare -rn ip link set lo up)',
  canUnshareNet() && spawnSync('unshare', ['-rn', 'ip', 'link', 'set', 'lo', 'up']).status === 0,
);

function kalab(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

interface Result {
  scenario: string;
  pass: boolean;
  sandbox: { mode: string };
  observed: {
    connectionsOpened: number;
    synSent: number;
    timeWait: { client: number; server: number };
    errors: Record<string, number>;
    streams?: number;
    portRangeSize?: number;
    exhaustedAfterMs?: number | null;
    openedBeforeExhaustion?: number | null;
    serverClosedBy?: Record<string, number>;
    requests: { sent: number; ok: number; failed: number };
    reusedRequests: number;
    phases?: Record<
      string,
      {
        connectionsOpened: number;
        synSent: number;
        resetsOnReusedSocket?: number;
        retries?: number;
        clientIdleCloses?: number;
        serverCpuUsPerRequest?: number;
        tls?: { handshakes: number; resumed: number; serverHandshakes: number; serverResumed: number };
        reusedRequests: number;
        errors: Record<string, number>;
        requests: { failed: number };
        timeWait: { client: number; server: number };
      }
    >;
  };
}

describe.skipIf(noNamespace)('kalab scenario --all (each in its own network namespace)', () => {
  it('reproduces every result of the article, the kernel agreeing, in under 90 s', async () => {
    const run = await kalab(['scenario', '--all', '--json'], 120_000);
    expect(run.stderr).not.toMatch(/Error|warning/);
    expect(run.ms).toBeLessThan(90_000);
    const results = JSON.parse(run.stdout) as Result[];
    // A verdict that fails under --all is said with its checks, then that scenario runs once
    // more on its own and must pass: the timing-bound ones (the idle-timeout race, pools of
    // goroutine-like clients) share two loaded cores with the whole suite in CI. Exit 1 and a
    // second failure still fail the test; everything below asserts on the passing result.
    expect([0, 1]).toContain(run.code);
    expect(run.code === 0).toBe(results.every((r) => r.pass));
    for (const [i, r] of results.entries()) {
      if (r.pass) continue;
      const failed = (r as unknown as { checks?: { pass: boolean }[] }).checks?.filter((c) => !c.pass);
      process.stderr.write(`scenario ${r.scenario} failed under --all: ${JSON.stringify(failed)}; running it again\n`);
      const again = await kalab(['scenario', r.scenario, '--json'], 60_000);
      expect(again.code, `${r.scenario} again: ${again.stderr}`).toBe(0);
      results[i] = JSON.parse(again.stdout) as Result;
    }
    const by = Object.fromEntries(results.map((r) => [r.scenario, r]));
    expect(results).toHaveLength(12);
    for (const r of results) {
      expect(r.sandbox.mode, r.scenario).toBe('namespace');
      expect(r.pass, r.scenario).toBe(true);
    }
    const o = (name: string) => by[name]!.observed;

    // 10 sequential requests, bodies unread: 10 connections = 10 SYNs = 10 TIME_WAIT (client side).
    expect(o('seq-unread-body')).toMatchObject({
      connectionsOpened: 10,
      synSent: 10,
      timeWait: { client: 10, server: 0 },
      reusedRequests: 0,
    });
    // Bodies read: 1 connection, one SYN.
    expect(o('seq-read-body')).toMatchObject({
      connectionsOpened: 1,
      synSent: 1,
      timeWait: { client: 1, server: 0 },
      reusedRequests: 9,
    });
    // 10 workers x 10 requests, 2 idle kept: strictly more than the 10 workers, every one a SYN and a TIME_WAIT.
    const def = o('concurrent-default-pool');
    expect(def.connectionsOpened).toBeGreaterThan(10);
    expect(def.connectionsOpened).toBeLessThanOrEqual(100);
    expect(def.synSent).toBe(def.connectionsOpened);
    expect(def.timeWait.client).toBe(def.connectionsOpened);
    expect(def.reusedRequests).toBe(100 - def.connectionsOpened);
    // 10 idle kept: exactly 10, one per worker.
    expect(o('concurrent-tuned-pool')).toMatchObject({
      connectionsOpened: 10,
      synSent: 10,
      timeWait: { client: 10, server: 0 },
      reusedRequests: 90,
    });
    // No reuse in a 500-port range with tcp_tw_reuse=0: EADDRNOTAVAIL once TIME_WAIT holds (at least 95% of) every port.
    const ex = o('port-exhaustion');
    expect(ex.portRangeSize).toBe(500);
    expect(ex.openedBeforeExhaustion).toBeGreaterThanOrEqual(0.95 * 500);
    expect(ex.connectionsOpened).toBeGreaterThanOrEqual(0.95 * 500);
    expect(ex.connectionsOpened).toBeLessThanOrEqual(500);
    expect(ex.synSent).toBe(ex.connectionsOpened);
    expect(ex.timeWait.client).toBe(ex.connectionsOpened);
    // 50 workers x 20 requests: every request either got a connection or failed with EADDRNOTAVAIL.
    expect(ex.requests.sent).toBe(1000);
    expect(ex.errors['EADDRNOTAVAIL']).toBe(1000 - ex.connectionsOpened);
    expect(ex.requests.failed).toBe(1000 - ex.connectionsOpened);
    // The first EADDRNOTAVAIL comes after the range filled; the phase is bounded at 30 s.
    expect(ex.exhaustedAfterMs).toBeGreaterThan(0);
    expect(ex.exhaustedAfterMs).toBeLessThan(30_000);
    // 100 concurrent requests over h2c: 1 connection, 1 SYN, 100 streams.
    const h2 = o('http2-multiplexing');
    expect(h2).toMatchObject({ connectionsOpened: 1, synSent: 1, streams: 100, requests: { ok: 100, failed: 0 } });
    expect(h2.timeWait.client + h2.timeWait.server).toBe(1);
    // The idle-timeout race: at least one reset on a reused socket; each mitigation met the
    // server's close (the pre-emptive close or the retry happened) and lost nothing.
    const race = o('keepalive-race').phases!;
    expect(race['race']!.resetsOnReusedSocket).toBeGreaterThanOrEqual(1);
    expect(race['race']!.errors['ECONNRESET']).toBe(race['race']!.resetsOnReusedSocket);
    expect(race['client-timeout']!.clientIdleCloses).toBeGreaterThanOrEqual(1);
    expect(race['client-timeout']!.requests.failed).toBe(0);
    expect(race['honour-hint']!.clientIdleCloses).toBeGreaterThanOrEqual(1);
    expect(race['honour-hint']!.reusedRequests).toBe(0);
    expect(race['honour-hint']!.requests.failed).toBe(0);
    expect(race['retry']!.retries).toBeGreaterThanOrEqual(1);
    expect(race['retry']!.retries).toBe(race['retry']!.resetsOnReusedSocket);
    expect(race['retry']!.requests.failed).toBe(0);
    for (const phase of Object.values(race)) expect(phase.synSent).toBe(phase.connectionsOpened);
    // Server closes after 5 requests: 50 requests, 10 connections, all ended by its limit.
    expect(o('server-max-requests')).toMatchObject({
      connectionsOpened: 10,
      synSent: 10,
      requests: { sent: 50, ok: 50, failed: 0 },
      serverClosedBy: { maxRequests: 10 },
    });
    // Who holds TIME_WAIT: the side that closed first.
    const who = o('who-holds-time-wait').phases!;
    expect(who['client-closes']!.timeWait).toEqual({ client: 10, server: 0 });
    expect(who['server-closes']!.timeWait).toEqual({ client: 0, server: 10 });
    // undici: an unread small body does not block reuse; an unread 1 MiB body does.
    const und = o('undici-unread-body').phases!;
    expect(und['small-body']).toMatchObject({ connectionsOpened: 1, synSent: 1, reusedRequests: 9 });
    expect(und['large-body']).toMatchObject({ connectionsOpened: 10, synSent: 10, reusedRequests: 0 });
    // TLS: unread bodies pay a full handshake per request, read ones one; the server's ledger agrees.
    const hs = o('tls-handshake-per-request').phases!;
    expect(hs['unread']).toMatchObject({
      connectionsOpened: 10,
      synSent: 10,
      tls: { handshakes: 10, resumed: 0, serverHandshakes: 10, serverResumed: 0 },
    });
    expect(hs['read']).toMatchObject({
      connectionsOpened: 1,
      synSent: 1,
      reusedRequests: 9,
      tls: { handshakes: 1, resumed: 0, serverHandshakes: 1, serverResumed: 0 },
    });
    expect(hs['unread']!.serverCpuUsPerRequest).toBeGreaterThan(hs['read']!.serverCpuUsPerRequest!);
    // No keep-alive: 20 full handshakes, or 1 full + 19 resumed.
    const res = o('tls-session-resumption').phases!;
    expect(res['off']).toMatchObject({
      connectionsOpened: 20,
      synSent: 20,
      tls: { handshakes: 20, resumed: 0, serverHandshakes: 20, serverResumed: 0 },
    });
    expect(res['on']).toMatchObject({
      connectionsOpened: 20,
      synSent: 20,
      tls: { handshakes: 20, resumed: 19, serverHandshakes: 20, serverResumed: 19 },
    });
  });
});

describe('kalab scenario (usage)', () => {
  it('lists the scenarios as JSON', async () => {
    const run = await kalab(['scenario', '--list', '--json'], 20_000);
    expect(run.code).toBe(0);
    const list = JSON.parse(run.stdout) as Array<{ name: string; origin: string; expected: string }>;
    expect(list.map((s) => s.name)).toContain('keepalive-race');
    expect(list.find((s) => s.name === 'seq-read-body')).toMatchObject({
      origin: 'article',
      expected: '1 TCP connection, one SYN in the capture',
    });
  });

  it('exits 2 naming the argument for an unknown scenario', async () => {
    const run = await kalab(['scenario', 'no-such-scenario'], 20_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown scenario "no-such-scenario"/);
    expect(run.stdout).toBe('');
  });

  it('exits 2 without a name', async () => {
    const run = await kalab(['scenario'], 20_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/scenario name is required/);
  });

  it.skipIf(noNamespace)('prints one scenario as the docs/scenarios.md JSON', async () => {
    const run = await kalab(['scenario', 'seq-unread-body', '--json'], 60_000);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r).toMatchObject({
      scenario: 'seq-unread-body',
      expected: { result: expect.any(String) },
      observed: { connectionsOpened: 10, synSent: 10, timeWait: { client: 10, server: 0 }, errors: {} },
      pass: true,
    });
  });

  it.skipIf(noNamespace)(
    'prints the settings with Go and Node names, the netstat and packet views and the verdict',
    async () => {
      const run = await kalab(['scenario', 'concurrent-tuned-pool'], 60_000);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Transport.MaxIdleConnsPerHost');
      expect(run.stdout).toContain('maxFreeSockets');
      expect(run.stdout).toMatch(/TIME_WAIT\s+10\s+0/);
      expect(run.stdout).toContain('SYNs sent (ActiveOpens delta): 10');
      expect(run.stdout).toContain('Verdict: PASS');
    },
  );
});
