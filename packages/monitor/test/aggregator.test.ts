import type { TcpSample } from '@kalab/core';
import type { Report, Tick } from '@kalab/protocol';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.js';
import { report, tcpSample, tick } from './test-peer.js';

function setup(o: Partial<ConstructorParameters<typeof Aggregator>[0]> = {}) {
  const clock = { now: 1_000_000 };
  const agg = new Aggregator(
    {
      historySize: 5,
      maxSources: 3,
      maxHosts: 2,
      maxRuns: 10,
      maxConnectionRows: 10,
      sampleFreshMs: 3000,
      snapshotHistory: 5,
      ...o,
    },
    () => clock.now,
  );
  return { agg, clock };
}
const T = (seq: number, totals: { requests: number; connectionsOpened: number }, extra: Record<string, unknown> = {}) =>
  tick(seq, totals, extra) as unknown as Tick;
const S = (host: string, states: Record<string, number>, extra: Record<string, unknown> = {}) =>
  tcpSample(host, states, extra) as unknown as TcpSample;
const R = (sent: number, opened: number, extra: Record<string, unknown> = {}) =>
  report('http://127.0.0.1:1/', sent, opened, extra) as unknown as Report;

describe('Aggregator', () => {
  it('keeps totals cumulative over runs; a report replaces its ticks; a late tick of an ended run is ignored', () => {
    const { agg } = setup();
    const a = agg.attach('agent', 'a', 'h', 'p1')!;
    agg.onTick(a, T(1, { requests: 10, connectionsOpened: 10 }, { runId: 'r1' }));
    agg.onTick(a, T(2, { requests: 25, connectionsOpened: 25 }, { runId: 'r1' }));
    expect(a.totals.requests).toBe(25);
    agg.onRunReport(a, 'r1', R(30, 30));
    expect(a.totals).toEqual({ requests: 30, connectionsOpened: 30, reusedRequests: 0 });
    agg.onTick(a, T(3, { requests: 29, connectionsOpened: 29 }, { runId: 'r1' }));
    expect(a.totals.requests).toBe(30);
    agg.onTick(a, T(1, { requests: 5, connectionsOpened: 1 }, { runId: 'r2' }));
    expect(a.totals).toEqual({ requests: 35, connectionsOpened: 31, reusedRequests: 0 });
    expect(agg.runs.get('r1')).toMatchObject({ running: false, outcome: 'completed' });
    expect(agg.runs.get('r2')).toMatchObject({ running: true });
  });

  it("holds a run's rate after its report until one history point has it, then 0: a run shorter than a second still shows", () => {
    const { agg, clock } = setup();
    const a = agg.attach('agent', 'a', 'h', 'p1')!;
    agg.tick(); // history: 0
    // A 300 ms run: two ticks and its report, all between two history points.
    clock.now += 100;
    agg.onTick(
      a,
      T(1, { requests: 12, connectionsOpened: 1 }, { runId: 'short', rates: { rps: 120, newConnPerSec: 10 } }),
    );
    clock.now += 100;
    agg.onTick(
      a,
      T(2, { requests: 30, connectionsOpened: 1 }, { runId: 'short', rates: { rps: 180, newConnPerSec: 0 } }),
    );
    clock.now += 100;
    agg.onRunReport(a, 'short', R(30, 1));
    // Every viewer sees the held rate, not 0, until the history has it.
    expect(agg.snapshot().merged.rps).toBe(180);
    expect(agg.snapshot().sources[0]!.rates).toEqual({ rps: 180, newConnPerSec: 0 });
    expect(agg.runs.get('short')).toMatchObject({ running: false, outcome: 'completed' });
    clock.now += 700;
    agg.tick(); // history: the run's 180
    expect(agg.snapshot().history.rps).toEqual([0, 180]);
    expect(agg.snapshot().merged.rps).toBe(0);
    expect(agg.snapshot().sources[0]!.rates).toEqual({ rps: 0, newConnPerSec: 0 });
    clock.now += 1000;
    agg.tick();
    expect(agg.snapshot().history.rps).toEqual([0, 180, 0]);

    // A run that only sent its report (no tick): its own averages are held, 50 req/s and 5 conn/s.
    agg.onRunReport(a, 'report-only', R(50, 5, { throughput: { rps: 50 }, durationMs: 1000 }));
    expect(agg.snapshot().sources[0]!.rates).toEqual({ rps: 50, newConnPerSec: 5 });
    clock.now += 1000;
    agg.tick();
    expect(agg.snapshot().history.rps).toEqual([0, 180, 0, 50]);
    expect(agg.snapshot().merged.rps).toBe(0);

    // A new run's tick replaces a held rate at once; a disconnect drops it.
    agg.onRunReport(a, 'r3', R(10, 1, { throughput: { rps: 10 }, durationMs: 1000 }));
    agg.onTick(a, T(1, { requests: 1, connectionsOpened: 1 }, { runId: 'r4', rates: { rps: 7, newConnPerSec: 1 } }));
    expect(a.ratesHeld).toBe(false);
    expect(agg.snapshot().merged.rps).toBe(7);
    agg.onRunReport(a, 'r4', R(1, 1));
    expect(a.ratesHeld).toBe(true);
    agg.detach(a, 'p1', false);
    expect(a.rates).toEqual({ rps: 0, newConnPerSec: 0 });
  });

  it('merges the load side: agents when there are any, else servers (never both)', () => {
    const { agg } = setup();
    const srv = agg.attach('server', 's', 'h1', 'p1')!;
    agg.onTick(srv, T(1, { requests: 100, connectionsOpened: 4 }));
    expect(agg.snapshot().merged).toMatchObject({ requests: 100, connectionsOpened: 4, requestsPerConnection: 25 });
    const a = agg.attach('agent', 'a', 'h2', 'p2')!;
    agg.onTick(a, T(1, { requests: 60, connectionsOpened: 60 }, { runId: 'r' }));
    expect(agg.snapshot().merged).toMatchObject({ requests: 60, connectionsOpened: 60, requestsPerConnection: 1 });
  });

  it('counts a host state as the largest among fresh samples, never a sum; stale senders stop counting', () => {
    const { agg, clock } = setup();
    agg.onTcpSample('monitor', S('h', { TIME_WAIT: 50, ESTABLISHED: 2 }));
    agg.onTcpSample('server', S('h', { TIME_WAIT: 10, ESTABLISHED: 5 }));
    expect(agg.snapshot().hosts['h']!.states).toEqual({ TIME_WAIT: 50, ESTABLISHED: 5 });
    clock.now += 2000;
    agg.onTcpSample('server', S('h', { TIME_WAIT: 12, ESTABLISHED: 1 }));
    clock.now += 2000; // the monitor's sample is now 4 s old
    expect(agg.snapshot().hosts['h']!.states).toEqual({ TIME_WAIT: 12, ESTABLISHED: 1 });
  });

  it('computes time to ephemeral exhaustion from the growth of the last ticks; null when not growing', () => {
    const { agg, clock } = setup();
    const range: [number, number] = [30000, 39999]; // 10,000 ports
    for (let i = 0; i <= 4; i++) {
      agg.onTcpSample(
        'agent',
        S('client', { TIME_WAIT: i * 1000 }, { ephemeral: { range, inUse: i * 1000, timeWait: i * 1000 } }),
      );
      agg.tick();
      clock.now += 1000;
    }
    clock.now -= 1000;
    // 4,000 in use, growing 1,000/s: 6,000 left → 6 s.
    expect(agg.snapshot().hosts['client']!.exhaustionSeconds).toBeCloseTo(6, 5);
    expect(agg.snapshot().findings.map((f) => f.id)).toContain('time-wait-growth');
    for (let i = 0; i < 6; i++) {
      clock.now += 1000;
      agg.onTcpSample('agent', S('client', { TIME_WAIT: 4000 }, { ephemeral: { range, inUse: 4000, timeWait: 4000 } }));
      agg.tick();
    }
    expect(agg.snapshot().hosts['client']!.exhaustionSeconds).toBeNull();
  });

  it('diagnoses the running run from its own totals and configuration, then shows its report findings', () => {
    const { agg } = setup();
    const a = agg.attach('agent', 'a', 'h', 'p')!;
    agg.onRunStarted(a, {
      v: 1,
      type: 'run-started',
      runId: 'r',
      target: 'http://127.0.0.1:1/',
      engine: 'undici',
      config: { keepAlive: false, connections: 4 },
    });
    agg.onTick(a, T(1, { requests: 200, connectionsOpened: 200 }, { runId: 'r' }));
    agg.tick();
    expect(agg.snapshot().findings.map((f) => f.id)).toContain('no-keepalive');
    agg.onRunReport(a, 'r', R(300, 300, { findings: [{ id: 'from-report', severity: 'info', message: 'x' }] }));
    agg.tick();
    expect(agg.snapshot().findings.map((f) => f.id)).toEqual(['from-report']);
  });

  it('lists the current run port first in the connections table, listeners last, aged by the server ledger', () => {
    const { agg, clock } = setup();
    const srv = agg.attach('server', 's', 'box', 'p1')!;
    const sockets = [
      { local: '0.0.0.0:22', remote: '0.0.0.0:0', state: 'LISTEN' },
      { local: '127.0.0.1:8080', remote: '0.0.0.0:0', state: 'LISTEN' },
      { local: '10.0.0.1:5432', remote: '10.0.0.9:40000', state: 'ESTABLISHED' },
      { local: '127.0.0.1:8080', remote: '127.0.0.1:50001', state: 'ESTABLISHED' },
    ];
    agg.onTcpSample('monitor', S('box', {}, { sockets }));
    agg.onConnEvents(srv, [
      { kind: 'open', id: 1, at: clock.now - 1500, remote: '127.0.0.1:50001' },
      { kind: 'request', id: 1, at: clock.now, remote: '127.0.0.1:50001', requests: 3 },
    ]);
    const a = agg.attach('agent', 'a', 'box', 'p2')!;
    agg.onRunStarted(a, {
      v: 1,
      type: 'run-started',
      runId: 'r',
      target: 'http://127.0.0.1:8080/',
      engine: 'undici',
      config: {},
    });
    const rows = agg.snapshot().connections;
    expect(rows.map((r) => `${r.state} ${r.local}`)).toEqual([
      'ESTABLISHED 127.0.0.1:8080',
      'LISTEN 127.0.0.1:8080',
      'ESTABLISHED 10.0.0.1:5432',
      'LISTEN 0.0.0.0:22',
    ]);
    expect(rows[0]).toMatchObject({ ageMs: 1500, requests: 3 });
    expect(rows[2]).toMatchObject({ ageMs: null, requests: null });
  });

  it('bounds history, sources and hosts', () => {
    const { agg, clock } = setup();
    for (let i = 0; i < 8; i++) {
      agg.onTcpSample('m', S('h', { TIME_WAIT: i }));
      agg.tick();
      clock.now += 1000;
    }
    const hist = agg.snapshot().history;
    expect(hist.at).toHaveLength(5);
    expect(hist.states['h']!['TIME_WAIT']).toEqual([3, 4, 5, 6, 7]);
    // Hosts: the one seen longest ago goes first.
    agg.onTcpSample('m', S('h2', {}));
    clock.now += 1;
    agg.onTcpSample('m', S('h3', {}));
    expect(Object.keys(agg.snapshot().hosts).sort()).toEqual(['h2', 'h3']);
    // Sources: full of connected ones → refused; a disconnected one is forgotten for a newcomer.
    const s1 = agg.attach('agent', 'a1', 'h', 'p1')!;
    agg.attach('agent', 'a2', 'h', 'p2');
    agg.attach('agent', 'a3', 'h', 'p3');
    expect(agg.attach('agent', 'a4', 'h', 'p4')).toBeNull();
    agg.detach(s1, 'p1', false);
    expect(agg.attach('agent', 'a4', 'h', 'p4')).not.toBeNull();
    expect(agg.snapshot().sources.map((s) => s.name)).toEqual(['a2', 'a3', 'a4']);
  });
});
