import { PROTOCOL_VERSION } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type Agent, checkCaps, resolveCaps, runAgent } from '../src/index.js';
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

async function setup(caps?: Parameters<typeof runAgent>[0]['caps']) {
  hub = new TinyHub();
  server = await startCountingServer();
  agent = runAgent({ monitor: hub.url, name: 'agent-test', host: 'agent-box', caps });
  await hub.next((m) => m['type'] === 'hello');
  await new Promise<void>((r) => (agent!.link.connected ? r() : agent!.once('connected', () => r())));
  return { hub, server, agent };
}

describe('loadgen agent', () => {
  it('checks runs against its caps: loopback only by default, --allow-target, --max-connections, --max-duration', () => {
    const def = resolveCaps({});
    expect(checkCaps({ target: 'http://127.0.0.1:8080/' }, def)).toBeNull();
    expect(checkCaps({ target: 'http://10.0.0.1:8080/' }, def)).toMatch(/not loopback/);
    const allow = resolveCaps({
      allowTargets: ['10.0.0.1:8080', 'example.test'],
      maxConnections: 5,
      maxDurationMs: 2000,
    });
    expect(checkCaps({ target: 'http://10.0.0.1:8080/', connections: 5 }, allow)).toBeNull();
    expect(checkCaps({ target: 'http://10.0.0.1:9090/', connections: 1 }, allow)).toMatch(
      /not in this agent's --allow-target list/,
    );
    expect(checkCaps({ target: 'http://example.test/x', connections: 1 }, allow)).toBeNull();
    expect(checkCaps({ target: 'http://127.0.0.1/', connections: 1 }, allow)).toMatch(/--allow-target/);
    expect(checkCaps({ target: 'http://10.0.0.1:8080/' }, allow)).toMatch(
      /10 connections is more than this agent's --max-connections 5/,
    );
    expect(checkCaps({ target: 'http://10.0.0.1:8080/', connections: 6 }, allow)).toMatch(/--max-connections 5/);
    expect(checkCaps({ target: 'http://10.0.0.1:8080/', connections: 1, durationMs: 2001 }, allow)).toMatch(
      /--max-duration 2000/,
    );
    expect(() => resolveCaps({ allowTargets: ['a:b:c'] })).toThrow(/--allow-target/);
  });

  it('runs what the monitor asks and streams run-started, ticks, TCP samples and the report', async () => {
    const { hub, server, agent } = await setup();
    const reported = new Promise<{ runId: string }>((r) => agent.once('report', r));
    const runId = hub.start({ target: server.url, requests: 300, connections: 2, workers: 1, keepAlive: false });
    await hub.next((m) => m['type'] === 'run-started' && m['runId'] === runId);
    const rep = await hub.next((m) => m['type'] === 'run-report' && m['runId'] === runId);
    expect((await reported).runId).toBe(runId);
    const report = rep['report'] as { requests: { completed: number }; connections: { opened: number } };
    expect(report.requests.completed).toBe(300);
    expect(report.connections.opened).toBe(300);
    expect(server.requests).toBe(300);
    // The host sample after the run shows the TIME_WAIT that 300 closed connections left on this side.
    const sample = [...hub.received].reverse().find((m) => m['type'] === 'tcp-sample') as
      | { host: string; states: Record<string, number> }
      | undefined;
    expect(sample?.host).toBe('agent-box');
    expect(sample?.states['TIME_WAIT']).toBeGreaterThanOrEqual(1);
    expect(hub.received[0]).toMatchObject({ type: 'hello', role: 'agent', name: 'agent-test', host: 'agent-box' });
  });

  it('announces every cap in its hello, --max-body-bytes included (default 64 KiB), so a monitor can refuse up front', async () => {
    const { hub } = await setup({ maxConnections: 7, maxBodyBytes: 10 });
    expect(hub.received[0]).toMatchObject({
      type: 'hello',
      role: 'agent',
      caps: { maxConnections: 7, maxDurationMs: 60_000, allowTargets: null, maxBodyBytes: 10 },
    });
    // The agent still refuses a larger body itself (a monitor that did not check).
    const r = hub.start({ target: server!.url, requests: 1, connections: 1, body: 'x'.repeat(11) });
    expect(await hub.next((m) => m['type'] === 'run-refused' && m['runId'] === r)).toMatchObject({
      code: 'KALAB_ERR_CAP_EXCEEDED',
      message: "a 11-byte request body is more than this agent's --max-body-bytes 10",
    });
    await agent!.close();
    await hub.close();
    await server!.close();
    const d = await setup();
    expect((d.hub.received[0] as { caps: { maxBodyBytes: number } }).caps.maxBodyBytes).toBe(65_536);
  });

  it('refuses over the wire with KALAB_ERR_CAP_EXCEEDED whatever the monitor asks, and with KALAB_ERR_BUSY when busy', async () => {
    const { hub, server } = await setup({ maxConnections: 4 });
    const r1 = hub.start({ target: server.url, requests: 10, connections: 5 });
    expect(await hub.next((m) => m['type'] === 'run-refused' && m['runId'] === r1)).toMatchObject({
      code: 'KALAB_ERR_CAP_EXCEEDED',
    });
    const r2 = hub.start({ target: 'http://192.0.2.1:80/', requests: 10 });
    expect(await hub.next((m) => m['type'] === 'run-refused' && m['runId'] === r2)).toMatchObject({
      code: 'KALAB_ERR_CAP_EXCEEDED',
    });
    const long = hub.start({ target: server.url, durationMs: 1500, connections: 1, workers: 1 });
    await hub.next((m) => m['type'] === 'run-started' && m['runId'] === long);
    const r3 = hub.start({ target: server.url, requests: 10 });
    expect(await hub.next((m) => m['type'] === 'run-refused' && m['runId'] === r3)).toMatchObject({
      code: 'KALAB_ERR_BUSY',
      message: expect.stringMatching(/busy/),
    });
    hub.ws!.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'run-stop', runId: long }));
    const rep = await hub.next((m) => m['type'] === 'run-report' && m['runId'] === long);
    expect((rep['report'] as { stoppedEarly?: string }).stoppedEarly).toBe('stopped');
  });

  it('stops a count-bounded run at its --max-duration', async () => {
    const { hub, server } = await setup({ maxDurationMs: 700 });
    const t0 = Date.now();
    const id = hub.start({ target: server.url, requests: 50_000_000, connections: 1, workers: 1 });
    const rep = await hub.next((m) => m['type'] === 'run-report' && m['runId'] === id);
    expect((rep['report'] as { stoppedEarly?: string }).stoppedEarly).toBe('max-duration');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('close() during a run stops it, hands its report over and then closes the link', async () => {
    const { hub, server, agent: a } = await setup();
    const reported = new Promise<{ report: { stoppedEarly?: string } }>((r) => a.once('report', r));
    const id = hub.start({ target: server.url, durationMs: 20_000, connections: 1, workers: 1 });
    await hub.next((m) => m['type'] === 'run-started' && m['runId'] === id);
    await a.close();
    expect((await reported).report.stoppedEarly).toBe('signal');
    const rep = await hub.next((m) => m['type'] === 'run-report' && m['runId'] === id);
    expect((rep['report'] as { stoppedEarly?: string }).stoppedEarly).toBe('signal');
    agent = undefined;
  });

  it('finishes a run and emits its report when the monitor vanishes mid-run', async () => {
    const { hub, server, agent } = await setup();
    const reported = new Promise<{ runId: string; report: { requests: { completed: number } } }>((r) =>
      agent.once('report', r),
    );
    const id = hub.start({ target: server.url, durationMs: 1500, connections: 1, workers: 1 });
    await hub.next((m) => m['type'] === 'tick' && m['runId'] === id);
    await hub.close();
    const { runId, report } = await reported;
    expect(runId).toBe(id);
    expect(report.requests.completed).toBeGreaterThan(0);
    expect(report.requests.completed).toBe(server.requests);
  });
});
