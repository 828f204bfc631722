import {
  ErrorCodes,
  getScenario,
  LatencyHistogram,
  type SourceMessage,
  type TcpSocket,
  type TcpState,
  type Tick,
} from '@kalab/core';
import { describe, expect, it } from 'vitest';
import {
  formatScenarioList,
  formatScenarioResult,
  listScenarios,
  namespaceSupport,
  runScenario,
} from '../src/scenario/index.js';
import { statesBySide } from '../src/scenario/tcp-view.js';

// runScenario starts the built child (dist/scenario/child.js): CI builds before testing.
const ns = namespaceSupport();

describe('runScenario (programmatic API the dashboard uses)', () => {
  it.skipIf(!ns.ok)(
    '10 sequential requests with read bodies: 1 connection, 1 SYN, 1 TIME_WAIT, events relayed from the namespace',
    async () => {
      const events: SourceMessage[] = [];
      const r = await runScenario('seq-read-body', { onEvent: (m) => events.push(m) });
      expect(r.sandbox.mode).toBe('namespace');
      expect(r.pass).toBe(true);
      expect(r.observed).toMatchObject({
        connectionsOpened: 1,
        synSent: 1,
        timeWait: { client: 1, server: 0 },
        reusedRequests: 9,
        requests: { sent: 10, ok: 10, failed: 0 },
      });
      const types = new Set(events.map((e) => e.type));
      expect([...types]).toEqual(expect.arrayContaining(['run-started', 'tcp-sample', 'run-report']));
      const sample = events.find((e) => e.type === 'tcp-sample');
      expect(sample).toMatchObject({ host: 'sandbox:seq-read-body' });
      const report = events.find((e) => e.type === 'run-report');
      expect(report).toMatchObject({
        report: { schema: 'kalab.report/v1', connections: { opened: 1, reusedRequests: 9 } },
      });
    },
  );

  it("ticks carry the interval's latency and connect histograms: together they count every completed request and connection", async () => {
    const events: SourceMessage[] = [];
    // On the host loopback when no namespace can be had: the ticks are the same.
    const r = await runScenario('seq-read-body', {
      onEvent: (m) => events.push(m),
      ...(ns.ok ? {} : { sandbox: 'host' as const }),
    });
    const ticks = events.filter((e): e is Tick => e.type === 'tick');
    expect(ticks.length).toBeGreaterThanOrEqual(1);
    const latency = new LatencyHistogram();
    const connect = new LatencyHistogram();
    for (const t of ticks) {
      if (t.latencyHistogram) latency.merge(LatencyHistogram.decode(t.latencyHistogram));
      if (t.connectHistogram) connect.merge(LatencyHistogram.decode(t.connectHistogram));
    }
    const last = ticks.at(-1)!;
    expect(r.observed.requests.ok).toBe(10);
    expect(latency.count).toBe(r.observed.requests.ok);
    expect(last.totals.requests).toBe(r.observed.requests.ok);
    expect(connect.count).toBe(r.observed.connectionsOpened);
    // A run shorter than a second still has a rate: requests / elapsed, not 0.
    expect(last.rates.rps).toBeGreaterThan(0);
    // The final tick comes before the report, so a monitor merges it into the run it ends.
    expect(events.findIndex((e) => e.type === 'run-report')).toBeGreaterThan(events.indexOf(last));
    expect(r.observed.latencyMs?.p50).toBeGreaterThan(0);
    expect(r.observed.latencyMs!.max).toBeGreaterThanOrEqual(r.observed.latencyMs!.p99);
  });

  it.skipIf(!ns.ok)(
    'who holds TIME_WAIT: the side that closes first, counted by port side in the namespace table',
    async () => {
      const r = await runScenario('who-holds-time-wait');
      expect(r.pass).toBe(true);
      expect(r.observed.phases?.['client-closes']?.timeWait).toEqual({ client: 10, server: 0 });
      expect(r.observed.phases?.['server-closes']?.timeWait).toEqual({ client: 0, server: 10 });
      expect(r.observed.synSent).toBe(20);
    },
  );

  it('runs on the host loopback with a warning when asked, skipping the kernel-counter checks', async () => {
    const notes: string[] = [];
    const r = await runScenario('seq-unread-body', { sandbox: 'host', onNote: (t) => notes.push(t) });
    expect(r.sandbox.mode).toBe('host');
    expect(r.sandbox.warning).toMatch(/host loopback/);
    expect(notes.join('\n')).toMatch(/host loopback/);
    expect(r.observed.connectionsOpened).toBe(10);
    expect(r.observed.timeWait.client).toBe(10);
    expect(r.checks.find((c) => c.metric === 'synSent')).toMatchObject({ skipped: true });
    expect(r.pass).toBe(true);
  });

  it('refuses port-exhaustion on the host rather than exhaust its ports', async () => {
    await expect(runScenario('port-exhaustion', { sandbox: 'host' })).rejects.toMatchObject({
      code: ErrorCodes.UNSUPPORTED,
      message: /private network namespace/,
    });
  });

  it('answers an unknown name with a bad-option error', async () => {
    await expect(runScenario('nope')).rejects.toMatchObject({ code: ErrorCodes.BAD_OPTION });
  });

  it('stops when its signal aborts', async () => {
    const stop = new AbortController();
    const run = runScenario('seq-read-body', { faithful: true, signal: stop.signal, sandbox: 'host' });
    setTimeout(() => stop.abort(), 300);
    await expect(run).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
  });
});

describe('scenario printer and TCP view', () => {
  it('counts states by side of the server port', () => {
    const ep = (port: number) => ({ address: '127.0.0.1', port });
    const row = (l: number, r: number, state: TcpState): TcpSocket => ({
      family: 4,
      local: ep(l),
      remote: ep(r),
      state,
    });
    const s = statesBySide(
      [
        row(8080, 0, 'LISTEN'),
        row(40001, 8080, 'TIME_WAIT'),
        row(40002, 8080, 'TIME_WAIT'),
        row(8080, 40003, 'TIME_WAIT'),
        row(40004, 9999, 'ESTABLISHED'),
      ],
      [8080],
    );
    expect(s).toEqual({ client: { TIME_WAIT: 2 }, server: { LISTEN: 1, TIME_WAIT: 1 } });
  });

  it('prints what ran with Go and Node names, the netstat and packet views, the verdict and why', () => {
    const def = getScenario('seq-unread-body');
    const text = formatScenarioResult({
      scenario: def.name,
      title: def.title,
      origin: def.origin,
      section: def.section,
      expected: { result: def.expectedText, checks: [] },
      observed: {
        connectionsOpened: 10,
        synSent: 10,
        timeWait: { client: 10, server: 0 },
        errors: {},
        requests: { sent: 10, ok: 10, failed: 0 },
        reusedRequests: 0,
        states: { client: { TIME_WAIT: 10 }, server: { LISTEN: 1 } },
        durationMs: 300,
        latencyMs: { p50: 0.75, p99: 13.2, max: 13.2 },
      },
      pass: true,
      checks: [
        {
          metric: 'connectionsOpened',
          op: 'eq',
          expected: 10,
          actual: 10,
          pass: true,
          skipped: false,
          says: 'the article: 10',
        },
      ],
      settings: {
        phases: [
          {
            name: 'main',
            title: 'x',
            settings: [
              {
                label: 'idle connections kept per host',
                value: '2',
                go: 'Transport.MaxIdleConnsPerHost (default 2)',
                node: 'http.Agent({ maxFreeSockets })',
              },
            ],
          },
        ],
        sandbox: [],
      },
      sandbox: { mode: 'namespace', portRange: [32768, 60999], tcpTwReuse: 0 },
      faithful: false,
      explanation: def.explanation,
      durationMs: 300,
    });
    expect(text).toContain('MaxIdleConnsPerHost');
    expect(text).toContain('maxFreeSockets');
    expect(text).toMatch(/TIME_WAIT\s+10\s+0/);
    expect(text).toContain('SYNs sent (ActiveOpens delta): 10');
    expect(text).toContain('latency p50 0.75 ms, p99 13.2 ms, max 13.2 ms');
    expect(text).toContain('Verdict: PASS');
    expect(text).toContain('✓ connectionsOpened = 10: observed 10');
    expect(text).toContain('Why');
  });

  it('lists every scenario with its expected result', () => {
    const text = formatScenarioList(listScenarios());
    for (const d of listScenarios()) expect(text).toContain(d.name);
    expect(text).toContain('expected: 10 TCP connections');
  });
});
