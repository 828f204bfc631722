import { createServer, type Server } from 'node:net';
import { createMonitor, type Monitor } from '@kalab/monitor';
import { PROTOCOL_VERSION, type Snapshot } from '@kalab/protocol';
import { namespaceSupport, runScenario } from '@kalab/scenarios';
import { afterEach, describe, expect, it } from 'vitest';
import { monitorWsUrl } from '../src/commands/dashboard.js';
import { initialStatus } from '../src/dashboard/model.js';
import { startEmbeddedLab } from '../src/dashboard/providers/embedded-lab.js';
import { connectViewer } from '../src/dashboard/providers/monitor-viewer.js';
import { RunController, type RunEvent, type RunHooks } from '../src/dashboard/providers/run-controller.js';
import { DashboardStore } from '../src/dashboard/store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function monitor(): Promise<Monitor> {
  const m = await createMonitor({ port: 0, sampleLocalTcp: false, tickMs: 100, snapshotIntervalMs: 100 });
  cleanups.push(() => m.close());
  return m;
}

function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

/** A scenario that reports like the sandboxed runner: run-started, ticks, the final report. */
function fakeScenario(connections: number) {
  return async (_name: string, { signal, onEvent }: RunHooks) => {
    const runId = `fake-${Date.now()}`;
    onEvent({
      v: PROTOCOL_VERSION,
      type: 'run-started',
      runId,
      target: 'http://127.0.0.1:1/',
      engine: 'http',
      config: {},
      scenario: 'seq-unread-body',
    });
    for (let i = 1; i <= connections; i++) {
      if (signal.aborted) throw new Error('stopped');
      onEvent({
        v: PROTOCOL_VERSION,
        type: 'tick',
        runId,
        seq: i,
        at: Date.now(),
        elapsedMs: i * 10,
        totals: { requests: i, connectionsOpened: i },
        rates: { rps: 100, newConnPerSec: 100 },
        openConnections: 1,
        errors: {},
      } as RunEvent);
      await new Promise((r) => setTimeout(r, 10));
    }
    return {
      scenario: 'seq-unread-body',
      pass: true,
      explanation: 'Nobody read the bodies.',
      checks: [{ metric: 'synSent', pass: true, skipped: false, says: 'SYNs', expected: 10, actual: 10 }],
      observed: {
        connectionsOpened: connections,
        requests: { sent: connections, ok: connections, failed: 0 },
        errors: {},
      },
    };
  };
}

describe('monitorWsUrl', () => {
  it('accepts ws, http and bare host:port forms', () => {
    expect(monitorWsUrl('ws://127.0.0.1:7070/ws')).toBe('ws://127.0.0.1:7070/ws');
    expect(monitorWsUrl('http://10.0.0.2:7070')).toBe('ws://10.0.0.2:7070/ws');
    expect(monitorWsUrl('https://mon.example:443/')).toBe('wss://mon.example/ws');
    expect(monitorWsUrl('127.0.0.1:7071')).toBe('ws://127.0.0.1:7071/ws');
  });
  it('names the argument on bad input', () => {
    expect(() => monitorWsUrl('ftp://127.0.0.1:7070')).toThrow(/URL must use ws/);
    expect(() => monitorWsUrl('ws://')).toThrow(/URL must be a monitor address/);
  });
});

describe('viewer provider', () => {
  it("writes the monitor's snapshots into the store and shows the link state", async () => {
    const m = await monitor();
    const store = new DashboardStore(initialStatus('remote', m.url));
    const viewer = connectViewer(store, { url: m.url, intervalMs: 100 });
    cleanups.push(() => viewer.close());
    const snap = await until('a snapshot', () => store.snapshot ?? undefined);
    expect(snap.type).toBe('snapshot');
    expect(store.status.link).toBe('connected');
  });
});

describe('viewer provider without a monitor', () => {
  it('says in the header that the monitor cannot be reached, and keeps retrying', async () => {
    const m = await monitor();
    const url = m.url;
    await m.close();
    const store = new DashboardStore(initialStatus('remote', url));
    const viewer = connectViewer(store, { url });
    cleanups.push(() => viewer.close());
    const message = await until('the error line', () => store.status.message);
    expect(message).toContain(`cannot reach the monitor at ${url} (ECONNREFUSED); retrying`);
    expect(store.status.link).toBe('disconnected');
  });
});

describe('run controller', () => {
  it('runs a scenario, counts its connections from its ticks, and forwards them to the monitor', async () => {
    const m = await monitor();
    const store = new DashboardStore(initialStatus('embedded', m.url));
    const runs = new RunController({
      store,
      monitorUrl: m.url,
      scenarios: { list: () => [{ name: 'seq-unread-body' }], run: fakeScenario(10) },
    });
    cleanups.push(() => runs.close());
    await runs.startScenario('seq-unread-body');
    expect(store.status.run?.state).toBe('running');
    const done = await until('the run to end', () => store.status.run?.state === 'done' && store.status.run);
    expect(done.connectionsOpened).toBe(10);
    expect(done.summary).toBe('10 connections opened · 10 requests · same result as the article');
    expect(done.explanation).toEqual(['Nobody read the bodies.']);
    // The monitor saw the run's ticks through the controller's agent link.
    const seen = await until('the monitor to count the ticks', () => {
      const s: Snapshot = m.snapshot();
      return s.merged.connectionsOpened === 10 && s;
    });
    expect(seen.merged.requests).toBe(10);
    expect(seen.sources.some((s) => s.role === 'agent' && s.name === 'dashboard-runs')).toBe(true);
  });

  it('a real scenario forwarded to the monitor shows its latency and rate in the snapshot', async () => {
    const m = await monitor();
    const store = new DashboardStore(initialStatus('embedded', m.url));
    const sandbox = namespaceSupport().ok ? 'auto' : 'host';
    const rates: number[] = [];
    const runs = new RunController({
      store,
      monitorUrl: m.url,
      scenarios: {
        list: () => [{ name: 'seq-read-body' }],
        run: (name, hooks) =>
          runScenario(name, {
            signal: hooks.signal,
            onNote: hooks.onNote,
            sandbox,
            onEvent: (msg) => {
              if (msg.type === 'tick') rates.push(msg.rates.rps);
              hooks.onEvent(msg);
            },
          }),
      },
    });
    cleanups.push(() => runs.close());
    await runs.startScenario('seq-read-body');
    await until('the run to end', () => store.status.run?.state === 'done', 30_000);
    const seen = await until("the monitor to merge the run's latency", () => {
      const s: Snapshot = m.snapshot();
      return s.run?.running === false && s.merged.requests === 10 && s.merged.latencyMs.p50 > 0 && s;
    });
    expect(seen.merged.latencyMs.max).toBeGreaterThanOrEqual(seen.merged.latencyMs.p50);
    expect(seen.merged.connectMs.p50).toBeGreaterThan(0);
    expect(rates.at(-1)).toBeGreaterThan(0);
    // The run (well under a second) left its rate in the per-second history: the monitor held
    // it after the report (the controller forwards at once, holding nothing), then dropped it.
    const after = await until('the held rate to reach the history and drop to 0', () => {
      const s: Snapshot = m.snapshot();
      return (
        s.history.rps.some((r) => r > 0) && s.sources.find((x) => x.name === 'dashboard-runs')?.rates.rps === 0 && s
      );
    });
    expect(Math.max(...after.history.rps)).toBeGreaterThan(0);
  }, 40_000);

  it('r stops a running scenario, and r again runs it again', async () => {
    const store = new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:1/ws'));
    const runs = new RunController({ store, scenarios: { list: () => [], run: fakeScenario(1000) } });
    cleanups.push(() => runs.close());
    await runs.startScenario('seq-unread-body');
    await until('some ticks', () => (store.status.run?.connectionsOpened ?? 0) > 2);
    await runs.toggle();
    expect(store.status.run?.state).toBe('stopped');
    expect(runs.running).toBe(false);
    await runs.toggle();
    expect(store.status.run?.state).toBe('running');
    await runs.stop();
  });

  it('r with no scenario picked asks for one when there is no load to run', async () => {
    const store = new DashboardStore(initialStatus('remote', 'ws://127.0.0.1:1/ws'));
    const runs = new RunController({ store });
    await runs.toggle();
    expect(store.status.message).toMatch(/press s/);
  });
});

/** Holds a port on 127.0.0.1 so the code under test finds it taken. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, server };
}

describe('embedded lab (kalab start)', () => {
  it('takes the next free monitor port when the first is taken, and a free server port when its own is', async () => {
    const taken = await occupy();
    const lab = await startEmbeddedLab({ monitorPort: taken.port, portAttempts: 20, serverPort: taken.port });
    cleanups.push(() => lab.close());
    expect(lab.monitor.port).toBeGreaterThan(taken.port);
    expect(lab.monitor.url).toBe(`ws://127.0.0.1:${lab.monitor.port}/ws`);
    expect(lab.serverUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(lab.serverUrl).not.toContain(`:${taken.port}/`);
    // The embedded server reports to the embedded monitor.
    await until('the server source', () =>
      lab.monitor.snapshot().sources.some((s) => s.role === 'server' && s.connected),
    );
  });

  it('no free monitor port in the range: UnreachableError naming the range (exit 3)', async () => {
    const taken = await occupy();
    await expect(startEmbeddedLab({ monitorPort: taken.port, portAttempts: 1 })).rejects.toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: expect.stringContaining(`127.0.0.1:${taken.port}-${taken.port}`),
    });
  });
});
