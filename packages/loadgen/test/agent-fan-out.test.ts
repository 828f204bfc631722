import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { LAB_VERSION, LatencyHistogram } from '@kalab/core';
import { type FanOutPart, ReportSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createLabServer } from '../../server/src/index.js';
import { type Agent, type LoadReport, mergeFanOut, runAgent, runLoad } from '../src/index.js';
import { type CountingServer, startCountingServer } from './helpers/counting-server.js';
import { TinyHub } from './helpers/tiny-hub.js';

let hub: TinyHub | undefined;
let agent: Agent | undefined;
let server: CountingServer | undefined;
afterEach(async () => {
  await agent?.close();
  await hub?.close();
  await server?.close();
  agent = hub = server = undefined;
});

const is = (type: string) => (m: Record<string, unknown>) => m['type'] === type;

describe('agent, fan-out side', () => {
  it('says its cores, caps and version in its hello', async () => {
    hub = new TinyHub();
    await hub.listening;
    agent = runAgent({
      monitor: hub.url,
      name: 'a',
      caps: { maxConnections: 40, maxDurationMs: 9000, allowTargets: ['10.0.0.1:8080', '[::1]'] },
    });
    const hello = await hub.next(is('hello'));
    expect(hello).toMatchObject({
      role: 'agent',
      version: LAB_VERSION,
      cores: availableParallelism(),
      caps: { maxConnections: 40, maxDurationMs: 9000, allowTargets: ['10.0.0.1:8080', '[::1]'] },
    });
  });

  it('gives up (fatal, no retry) when the monitor refuses its version', async () => {
    // A hub that answers every hello the way a monitor of another version does.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
    await new Promise((r) => wss.once('listening', r));
    let hellos = 0;
    wss.on('connection', (ws) =>
      ws.once('message', () => {
        hellos++;
        ws.send(
          JSON.stringify({
            v: 1,
            type: 'error',
            code: 'KALAB_ERR_UNSUPPORTED',
            message:
              "agent version 0.1.0 does not match this monitor's version 9.9.9: run the same kalab version on both",
          }),
        );
        ws.close(1008);
      }),
    );
    try {
      agent = runAgent({ monitor: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, name: 'old' });
      const err = await new Promise<Error & { code?: string }>((r) => agent!.once('fatal', r));
      expect(err.code).toBe('KALAB_ERR_UNSUPPORTED');
      expect(err.message).toBe(
        "monitor refused the hello: agent version 0.1.0 does not match this monitor's version 9.9.9: run the same kalab version on both",
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(hellos).toBe(1);
    } finally {
      await agent?.close();
      agent = undefined;
      await new Promise((r) => wss.close(r));
    }
  });

  it('a held run gets its workers ready, says so, answers clock pings, and starts only at the run-go instant', async () => {
    hub = new TinyHub();
    server = await startCountingServer();
    agent = runAgent({ monitor: hub.url, name: 'held' });
    await hub.next(is('hello'));
    await new Promise<void>((r) => (agent!.link.connected ? r() : agent!.once('connected', () => r())));
    hub.send({
      type: 'run-start',
      runId: 'h1',
      options: { target: server.url, connections: 2, requests: 200 },
      hold: true,
    });
    await hub.next(is('run-ready'));
    // Held: nothing has connected, however long it waits.
    await new Promise((r) => setTimeout(r, 300));
    expect(server.connections).toBe(0);
    expect(hub.received.some(is('run-started'))).toBe(false);
    const t0 = Date.now();
    hub.send({ type: 'clock-ping', id: 'p1', t0 });
    const pong = await hub.next(is('clock-pong'));
    expect(pong).toMatchObject({ id: 'p1', t0 });
    expect(pong['at'] as number).toBeGreaterThanOrEqual(t0);
    const startAt = Date.now() + 400;
    hub.send({ type: 'run-go', runId: 'h1', startAt });
    await hub.next(is('run-started'));
    const startedAt = Date.now();
    expect(startedAt).toBeGreaterThanOrEqual(startAt);
    expect(startedAt - startAt).toBeLessThan(250);
    const rep = (await hub.next(is('run-report')))['report'] as LoadReport;
    expect(rep.requests.ok).toBe(200);
    expect(server.requests).toBe(200);
  });

  it('run-stop opens a held run at once: the report comes back with nothing sent', async () => {
    hub = new TinyHub();
    server = await startCountingServer();
    agent = runAgent({ monitor: hub.url, name: 'held-stop' });
    await hub.next(is('hello'));
    await new Promise<void>((r) => (agent!.link.connected ? r() : agent!.once('connected', () => r())));
    hub.send({
      type: 'run-start',
      runId: 'h2',
      options: { target: server.url, connections: 1, durationMs: 5000 },
      hold: true,
    });
    await hub.next(is('run-ready'));
    hub.send({ type: 'run-stop', runId: 'h2' });
    const rep = (await hub.next(is('run-report')))['report'] as LoadReport;
    expect(rep.stoppedEarly).toBe('stopped');
    expect(rep.requests.sent).toBe(0);
    expect(server.connections).toBe(0);
  });
});

describe('mergeFanOut', () => {
  it('is the exact merge of real reports: counts summed, histograms merged, one share per agent', async () => {
    server = await startCountingServer();
    const a = await runLoad({ target: server.url, connections: 2, requests: 300, workers: 1 }).result;
    const b = await runLoad({ target: server.url, connections: 3, requests: 500, workers: 1 }).result;
    const parts: FanOutPart[] = [
      { name: 'a', host: 'box-a', runId: 'r.1', outcome: 'complete', report: a },
      { name: 'b', host: 'box-b', runId: 'r.2', outcome: 'complete', report: b },
    ];
    const m = mergeFanOut(parts);
    expect(() => ReportSchema.parse(m)).not.toThrow();
    expect(m.outcome).toBe('complete');
    expect(m.requests).toEqual({ sent: 800, completed: 800, ok: 800, non2xx: 0, failed: 0 });
    expect(m.connections.opened).toBe(5);
    expect(m.connections.opened).toBe(server.connections);
    expect(m.connections.reusedRequests).toBe(a.connections.reusedRequests + b.connections.reusedRequests);
    const lat = LatencyHistogram.decode(m.latencyHistogram!);
    expect(lat.count).toBe(800);
    expect(LatencyHistogram.decode(m.connectHistogram!).count).toBe(5);
    // Merged, not averaged: the same percentiles as one histogram of both runs' latencies.
    const both = LatencyHistogram.decode(a.latencyHistogram!).merge(LatencyHistogram.decode(b.latencyHistogram!));
    const s = both.summaryMs();
    expect(m.latencyMs).toEqual({ mean: s.mean, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max });
    expect(m.agents).toEqual([
      {
        name: 'a',
        host: { name: 'box-a', ...a.host },
        outcome: 'complete',
        requests: a.requests,
        connections: a.connections,
        errors: a.errors,
        latencyMs: a.latencyMs,
      },
      {
        name: 'b',
        host: { name: 'box-b', ...b.host },
        outcome: 'complete',
        requests: b.requests,
        connections: b.connections,
        errors: b.errors,
        latencyMs: b.latencyMs,
      },
    ]);
  });

  it('merges tls over https:// (was null): handshakes, resumed, versions and ALPN summed; handshakeMs from the shares', async () => {
    const lab = createLabServer({ port: 0, tls: true });
    const { url } = await lab.listen();
    try {
      const https = url.replace(/\/?$/, '/');
      // One agent resumes sessions (--tls-resume on), the other does not (off).
      const a = await runLoad({
        target: https,
        insecure: true,
        connections: 2,
        requests: 40,
        keepAlive: false,
        workers: 1,
        tlsResume: true,
      }).result;
      const b = await runLoad({
        target: https,
        insecure: true,
        connections: 3,
        requests: 30,
        keepAlive: false,
        workers: 1,
        tlsResume: false,
      }).result;
      expect(a.tls!.handshakes).toBe(40);
      expect(a.tls!.resumed).toBeGreaterThan(0);
      expect(b.tls).toMatchObject({ handshakes: 30, resumed: 0 });
      const m = mergeFanOut([
        { name: 'a', host: 'box-a', runId: 'r.1', outcome: 'complete', report: a },
        { name: 'b', host: 'box-b', runId: 'r.2', outcome: 'complete', report: b },
      ]);
      expect(() => ReportSchema.parse(m)).not.toThrow();
      // The server's own count agrees: every handshake and every resumed session.
      await vi.waitFor(() => expect(lab.ledger.openCount).toBe(0));
      const server = lab.stats().tls!;
      expect(server).toEqual({ handshakes: 70, resumed: a.tls!.resumed });
      expect(m.tls).toMatchObject({
        handshakes: server.handshakes,
        resumed: server.resumed,
        protocols: { 'TLSv1.3': 70 },
        alpn: { 'http/1.1': 70 },
        // The first agent's: the frame the CLI passes says what the user asked.
        resumeSessions: true,
        resumeSource: '--tls-resume',
      });
      expect(m.connections.opened).toBe(70);
      // Without the agents' histograms: the mean weighted by handshakes and the max are exact, p50/p99 the largest share's.
      const [ha, hb] = [a.tls!.handshakeMs, b.tls!.handshakeMs];
      expect(m.tls!.handshakeMs.mean).toBeCloseTo((ha.mean * 40 + hb.mean * 30) / 70, 2);
      expect(m.tls!.handshakeMs.max).toBe(Math.max(ha.max, hb.max));
      expect(m.tls!.handshakeMs.p50).toBe(Math.max(ha.p50, hb.p50));
      expect(m.tls!.handshakeMs.p99).toBe(Math.max(ha.p99, hb.p99));
      // A lost agent's last tick adds the handshakes it counted.
      const lost = mergeFanOut([
        { name: 'a', host: 'box-a', runId: 'r.1', outcome: 'complete', report: a },
        {
          name: 'gone',
          host: 'box-g',
          runId: 'r.2',
          outcome: 'lost',
          last: {
            elapsedMs: 900,
            totals: { requests: 12, connectionsOpened: 12, tlsHandshakes: 12, tlsResumed: 5 },
            errors: {},
          },
        },
      ]);
      expect(lost.tls).toMatchObject({ handshakes: 52, resumed: a.tls!.resumed + 5 });
      // http:// stays null.
      expect(
        mergeFanOut([{ name: 'p', host: 'h', runId: 'r', outcome: 'complete', report: { ...a, tls: null } }]).tls,
      ).toBeNull();
    } finally {
      await lab.close({ graceMs: 0 });
    }
  });

  it("counts a lost agent's last tick, says so, and is partial", async () => {
    server = await startCountingServer();
    const a = await runLoad({ target: server.url, connections: 1, requests: 100, workers: 1 }).result;
    const lost = new LatencyHistogram();
    for (let i = 1; i <= 40; i++) lost.recordUs(i * 100);
    const m = mergeFanOut([
      { name: 'a', host: 'box-a', runId: 'r.1', outcome: 'complete', report: a },
      {
        name: 'gone',
        host: 'box-g',
        runId: 'r.2',
        outcome: 'lost',
        last: {
          elapsedMs: 1500,
          totals: { requests: 40, ok: 39, non2xx: 1, failed: 2, connectionsOpened: 3 },
          errors: { ECONNRESET: 2 },
          latencyHistogram: lost.encode(),
        },
      },
    ]);
    expect(m.outcome).toBe('partial');
    expect(m.requests).toEqual({ sent: 142, completed: 140, ok: 139, non2xx: 1, failed: 2 });
    expect(m.connections.opened).toBe(4);
    expect(m.errors).toEqual({ ECONNRESET: 2 });
    expect(LatencyHistogram.decode(m.latencyHistogram!).count).toBe(140);
    const g = m.agents!.find((x) => x.name === 'gone')!;
    expect(g).toMatchObject({
      outcome: 'lost',
      host: { name: 'box-g' },
      requests: { ok: 39, non2xx: 1, failed: 2 },
      connections: { opened: 3 },
      errors: { ECONNRESET: 2 },
    });
    expect(g.latencyMs.max).toBeCloseTo(4, 1);
    expect(m.findings.some((f) => f.id === 'fanout-lost' && f.message.includes('gone (box-g) was lost'))).toBe(true);
  });
});
