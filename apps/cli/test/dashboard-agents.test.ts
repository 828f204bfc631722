import { describe, expect, it } from 'vitest';
import { computeLayout } from '../src/dashboard/layout.js';
import { initialStatus } from '../src/dashboard/model.js';
import { type LoadApi, RunController } from '../src/dashboard/providers/run-controller.js';
import { DashboardStore } from '../src/dashboard/store.js';
import { agentsView } from '../src/dashboard/views/agents-view.js';
import { syntheticSnapshot } from './fixtures/synthetic-snapshot.mjs';

function withAgents() {
  const snap = syntheticSnapshot({ at: Date.now() });
  const base = snap.sources.find((s) => s.role === 'agent')!;
  const agent = (name: string, rps: number, requests: number, more: Partial<typeof base> = {}) => ({
    ...base,
    id: name,
    name,
    rates: { rps, newConnPerSec: 0 },
    totals: { requests, connectionsOpened: 4, errors: 0 },
    ...more,
  });
  snap.sources = [
    snap.sources.find((s) => s.role === 'server')!,
    agent('agent-1', 2500, 20_000),
    agent('agent-2', 2400, 19_500),
    agent('agent-3', 0, 8000),
    agent('agent-4', 0, 1234, { connected: false, lost: true }),
  ];
  return snap;
}

describe('dashboard agents panel', () => {
  it('draws one row per agent at a fixed size: state, req/s, requests', () => {
    const store = new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:7070/ws', 'http://127.0.0.1:8080/'));
    store.setSnapshot(withAgents());
    const model = store.model();
    expect(agentsView.lines(model, 36, 6)).toEqual([
      'agent               req/s   requests',
      'agent-1 busy        2,500     20,000',
      'agent-2 busy        2,400     19,500',
      'agent-3 idle            0      8,000',
      'agent-4 lost            0      1,234',
    ]);
    // Cut to the panel: never more lines than it has, never wider.
    const small = agentsView.lines(model, 20, 3);
    expect(small).toHaveLength(3);
    for (const l of small) expect(l.length).toBeLessThanOrEqual(20);
    expect(agentsView.title(model, 30)).toBe(' Agents (a: run on all) ');
  });

  it('says how to add an agent when there is none', () => {
    const store = new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:7070/ws'));
    const snap = syntheticSnapshot({ at: Date.now() });
    snap.sources = snap.sources.filter((s) => s.role !== 'agent');
    store.setSnapshot(snap);
    expect(agentsView.lines(store.model(), 50, 4)).toEqual([
      'no agents: kalab loadgen --agent --monitor URL'.padEnd(50),
    ]);
  });

  it('has its own panel between connections and findings from 120 columns on; narrower screens keep their panels', () => {
    for (const [cols, rows] of [
      [120, 30],
      [160, 48],
      [200, 60],
    ] as const) {
      const l = computeLayout(cols, rows);
      if (l.tooSmall) throw new Error('too small');
      const agents = l.panels.agents!;
      expect(agents.left).toBe(l.panels.connections.left + l.panels.connections.width);
      expect(l.panels.findings.left).toBe(agents.left + agents.width);
      expect(agents.width).toBeGreaterThanOrEqual(26);
    }
    const narrow = computeLayout(80, 24);
    if (narrow.tooSmall) throw new Error('too small');
    expect(narrow.panels.agents).toBeUndefined();
    expect(narrow.panels.connections.width).toBe(48);
  });
});

describe('a: run the load on all agents', () => {
  it('starts the fan-out without forwarding its merged ticks (the agents report themselves), and a again stops it', async () => {
    const store = new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:7070/ws', 'http://127.0.0.1:8080/'));
    let aborted = false;
    const fanOut: LoadApi = {
      describe: 'load 10 connections × 10s on all agents',
      run: ({ signal, onEvent }) =>
        new Promise((resolve) => {
          onEvent({ type: 'tick', totals: { requests: 4000, connectionsOpened: 16 } });
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve({ requests: { completed: 4000 }, connections: { opened: 16 } });
          });
        }),
    };
    // A monitor URL nobody listens on: a forwarded event would open a link; none may be opened.
    const runs = new RunController({ store, monitorUrl: 'ws://127.0.0.1:9/ws', fanOut });
    await runs.toggleFanOut();
    expect(runs.running).toBe(true);
    expect(store.status.run).toMatchObject({
      kind: 'fan-out',
      name: 'load 10 connections × 10s on all agents',
      state: 'running',
      requests: 4000,
      connectionsOpened: 16,
    });
    expect((runs as unknown as { link: unknown }).link).toBeUndefined();
    await runs.toggleFanOut();
    expect(aborted).toBe(true);
    expect(runs.running).toBe(false);
    expect(store.status.run?.state).toBe('stopped');
    await runs.close();
  });

  it('without a monitor of its own (kalab dashboard URL) a says where fan-out runs from', async () => {
    const store = new DashboardStore(initialStatus('remote', 'ws://127.0.0.1:7070/ws'));
    const runs = new RunController({ store });
    await runs.toggleFanOut();
    expect(runs.running).toBe(false);
    expect(store.status.message).toBe('a runs on agents from kalab start (its monitor is theirs)');
  });
});
