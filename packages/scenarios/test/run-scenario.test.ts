import { ErrorCodes, LatencyHistogram } from '@kalab/core';
import type { SourceMessage, Tick } from '@kalab/protocol';
import { describe, expect, it } from 'vitest';
import { canUnshareNet, missing } from '../../../test/support/needs.js';
import { namespaceSupport, runScenario } from '../src/index.js';

// runScenario starts the built child (dist/child.js): CI builds before testing.
const noNamespace = missing('a private network namespace (unshare -rn)', canUnshareNet() && namespaceSupport().ok);

describe.skipIf(noNamespace)('runScenario in a private network namespace', () => {
  it('10 sequential requests with read bodies: 1 connection, 1 SYN, 1 TIME_WAIT, events relayed from the namespace', async () => {
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
      errors: {},
    });
    const types = new Set(events.map((e) => e.type));
    expect([...types]).toEqual(expect.arrayContaining(['run-started', 'tick', 'tcp-sample', 'run-report']));
    const sample = events.find((e) => e.type === 'tcp-sample');
    expect(sample).toMatchObject({ host: 'sandbox:seq-read-body' });
    // The phase's report comes from the loadgen's report builder, over the loadgen's accumulator.
    const report = events.find((e) => e.type === 'run-report');
    expect(report).toMatchObject({
      report: {
        schema: 'kalab.report/v1',
        engine: 'http',
        requests: { sent: 10, completed: 10, ok: 10, non2xx: 0, failed: 0 },
        connections: { opened: 1, reusedRequests: 9, maxOpen: 1, requestsPerConnection: 10 },
      },
    });
  });

  it("ticks carry the interval's latency and connect histograms: together they count every completed request and connection", async () => {
    const events: SourceMessage[] = [];
    const r = await runScenario('seq-read-body', { onEvent: (m) => events.push(m) });
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
    expect(latency.count).toBe(10);
    expect(last.totals.requests).toBe(10);
    expect(connect.count).toBe(1);
    // A run shorter than a second still has a rate: requests / elapsed, not 0. 10 requests with
    // 20 ms gaps take at least 180 ms, so the rate is at most 10 / 0.18 s ≈ 56/s.
    expect(last.rates.rps).toBeGreaterThan(0);
    expect(last.rates.rps).toBeLessThanOrEqual(10 / 0.18);
    // The final tick comes before the report, so a monitor merges it into the run it ends.
    expect(events.findIndex((e) => e.type === 'run-report')).toBeGreaterThan(events.indexOf(last));
    // Loopback latency: above 0, and (with a 2x tolerance over the phase's 20 s bound) far below a second.
    expect(r.observed.latencyMs?.p50).toBeGreaterThan(0);
    expect(r.observed.latencyMs!.p50).toBeLessThan(1000);
    expect(r.observed.latencyMs!.max).toBeGreaterThanOrEqual(r.observed.latencyMs!.p99);
  });

  it('who holds TIME_WAIT: the side that closes first, counted by port side in the namespace table', async () => {
    const r = await runScenario('who-holds-time-wait');
    expect(r.pass).toBe(true);
    expect(r.observed.phases?.['client-closes']?.timeWait).toEqual({ client: 10, server: 0 });
    expect(r.observed.phases?.['server-closes']?.timeWait).toEqual({ client: 0, server: 10 });
    expect(r.observed.synSent).toBe(20);
  });

  it('keepalive-race: the race resets a reused socket; each mitigation proves it met the server close before claiming 0 failures', async () => {
    const r = await runScenario('keepalive-race');
    const p = r.observed.phases!;
    expect(r.pass).toBe(true);
    expect(p['race']!.resetsOnReusedSocket).toBeGreaterThanOrEqual(1);
    expect(p['race']!.errors['ECONNRESET']).toBe(p['race']!.resetsOnReusedSocket);
    // The client idle timeout (100 ms) closed idle connections before the server's 300 ms.
    expect(p['client-timeout']!.clientIdleCloses).toBeGreaterThanOrEqual(1);
    expect(p['client-timeout']!.requests.failed).toBe(0);
    // node:http reads `Keep-Alive: timeout=0` (300 ms rounds down) and never reuses a connection.
    expect(p['honour-hint']!.clientIdleCloses).toBeGreaterThanOrEqual(1);
    expect(p['honour-hint']!.reusedRequests).toBe(0);
    expect(p['honour-hint']!.requests.failed).toBe(0);
    // The retry met a reset (the busy client forces one when timing alone misses) and absorbed it.
    expect(p['retry']!.retries).toBeGreaterThanOrEqual(1);
    expect(p['retry']!.retries).toBe(p['retry']!.resetsOnReusedSocket);
    expect(p['retry']!.requests.failed).toBe(0);
    expect(p['retry']!.errors).toEqual({});
  });
});

describe('runScenario on the host loopback', () => {
  it("ticks on the host loopback count every request and connection like the namespace's", async () => {
    const events: SourceMessage[] = [];
    const r = await runScenario('seq-read-body', { onEvent: (m) => events.push(m), sandbox: 'host' });
    const ticks = events.filter((e): e is Tick => e.type === 'tick');
    const last = ticks.at(-1)!;
    expect(r.sandbox.mode).toBe('host');
    expect(last.totals).toMatchObject({ requests: 10, ok: 10, connectionsOpened: 1, reusedRequests: 9 });
  });

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

  it('stops when its signal aborts, within a second of the abort', async () => {
    const stop = new AbortController();
    const run = runScenario('seq-read-body', { faithful: true, signal: stop.signal, sandbox: 'host' });
    setTimeout(() => stop.abort(), 300);
    const t0 = performance.now();
    await expect(run).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    // The faithful run takes ~9 s; aborted at 300 ms it ends within the child's 2 s SIGKILL grace.
    expect(performance.now() - t0).toBeLessThan(2500);
  });
});
