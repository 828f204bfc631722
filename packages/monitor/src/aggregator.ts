import { EventEmitter } from 'node:events';
import {
  type ConnectionEvent,
  type Finding,
  findingsFor,
  LatencyHistogram,
  PROTOCOL_VERSION,
  type Report,
  RingBuffer,
  type Role,
  type RunStarted,
  type Snapshot,
  type TcpSample,
  type Tick,
} from '@kalab/core';
import { HostState } from './host-state.js';
import { SourceState } from './source-state.js';

export interface RunState {
  id: string;
  sourceId: string;
  source: { name: string; host: string };
  target?: string;
  engine?: string;
  scenario?: string;
  config?: Record<string, unknown>;
  startedAt: number;
  endedAt?: number;
  running: boolean;
  /** completed (a report came), refused, lost (its source died before reporting). */
  outcome?: 'completed' | 'refused' | 'lost';
  report?: Report;
  refused?: { code: string; message: string };
}

interface HistoryPoint {
  at: number;
  rps: number;
  newConnPerSec: number;
  states: Record<string, Record<string, number>>;
}

export interface AggregatorOptions {
  historySize: number;
  maxSources: number;
  maxHosts: number;
  maxRuns: number;
  maxConnectionRows: number;
  /** A host sample older than this no longer counts toward the host's states. */
  sampleFreshMs: number;
  /** History points put in each snapshot (the rest stays in memory for /api/snapshot?history=all). */
  snapshotHistory: number;
}

export interface AggregatorEvents {
  'run-started': [RunState];
  'run-ended': [RunState];
}

/** Open connections a server announced (conn-events), to age the rows of the connections table. */
const MAX_TRACKED_CONNECTIONS = 10_000;

/**
 * Folds what sources send into one picture: per-source totals and rates, per-host TCP
 * states, merged latency, runs, findings and bounded per-second history. Pure state:
 * the hub feeds it messages and asks it for snapshots; it owns no sockets or timers.
 */
export class Aggregator extends EventEmitter<AggregatorEvents> {
  readonly sources = new Map<string, SourceState>();
  readonly hosts = new Map<string, HostState>();
  readonly runs = new Map<string, RunState>();
  private readonly history: RingBuffer<HistoryPoint>;
  private readonly openConns = new Map<string, { openedAt: number; requests: number }>();
  private findings: Finding[] = [];
  private nextSourceId = 1;
  readonly startedAt: number;

  constructor(
    private readonly o: AggregatorOptions,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.history = new RingBuffer(o.historySize);
    this.startedAt = now();
  }

  /** Finds or creates the source for a hello; null when the table is full of connected sources. */
  attach(role: Role, name: string, host: string, peerId: string): SourceState | null {
    const key = `${role}\u0000${name}\u0000${host}`;
    const now = this.now();
    const known = this.sources.get(key);
    if (known) {
      known.onReconnected(peerId, now);
      return known;
    }
    if (this.sources.size >= this.o.maxSources) {
      // Forget the disconnected source seen longest ago; refuse when every one is live.
      let victim: SourceState | undefined;
      for (const s of this.sources.values()) if (!s.connected && (!victim || s.lastSeen < victim.lastSeen)) victim = s;
      if (!victim) return null;
      this.sources.delete(victim.key);
    }
    const s = new SourceState(`s${this.nextSourceId++}`, key, role, name, host, peerId, now);
    this.sources.set(key, s);
    return s;
  }

  detach(source: SourceState, peerId: string, lost: boolean): void {
    if (source.peerId !== peerId) return; // a newer connection already speaks for it
    source.onDisconnected(lost);
    if (lost) {
      for (const run of this.runs.values()) {
        if (run.sourceId === source.id && run.running) this.endRun(run, 'lost');
      }
    }
  }

  onTick(source: SourceState, t: Tick): void {
    source.onTick(t, this.now());
    if (t.runId !== undefined && !this.runs.has(t.runId)) this.beginRun(source, { runId: t.runId });
  }

  onRunStarted(source: SourceState, m: RunStarted): void {
    source.onRunStarted(m.runId, this.now());
    this.beginRun(source, m);
  }

  onRunReport(source: SourceState, runId: string, report: Report): void {
    source.onRunReport(runId, report, this.now());
    const run =
      this.runs.get(runId) ??
      this.beginRun(source, { runId, target: report.target, engine: report.engine, config: report.config });
    run.report = report;
    if (run.running || run.outcome === 'lost') this.endRun(run, 'completed');
  }

  onRunRefused(source: SourceState, runId: string, code: string, message: string): void {
    source.onRunRefused(runId, this.now());
    const run = this.runs.get(runId) ?? this.beginRun(source, { runId });
    run.refused = { code, message };
    if (run.running) this.endRun(run, 'refused');
  }

  onTcpSample(sender: string, sample: TcpSample): void {
    let host = this.hosts.get(sample.host);
    if (!host) {
      if (this.hosts.size >= this.o.maxHosts) {
        let oldest: HostState | undefined;
        for (const h of this.hosts.values()) if (!oldest || h.lastAt < oldest.lastAt) oldest = h;
        if (oldest) this.hosts.delete(oldest.name);
      }
      host = new HostState(sample.host, this.o.sampleFreshMs);
      this.hosts.set(sample.host, host);
    }
    host.onSample(sender, sample, this.now());
  }

  onConnEvents(source: SourceState, events: readonly ConnectionEvent[]): void {
    source.lastSeen = this.now();
    for (const e of events) {
      const key = `${source.host}\u0000${e.remote}`;
      if (e.kind === 'close') this.openConns.delete(key);
      else {
        const c = this.openConns.get(key);
        if (c) c.requests = e.requests ?? (e.kind === 'request' ? c.requests + 1 : c.requests);
        else if (this.openConns.size < MAX_TRACKED_CONNECTIONS)
          this.openConns.set(key, { openedAt: e.at, requests: e.requests ?? (e.kind === 'request' ? 1 : 0) });
      }
    }
  }

  /** Once per second: history point, growth rates, findings. */
  tick(): void {
    const now = this.now();
    for (const h of this.hosts.values()) h.onTick(now);
    const m = this.mergedCounters();
    const states: HistoryPoint['states'] = {};
    for (const [name, h] of this.hosts) states[name] = h.snapshot(now).states;
    this.history.push({ at: now, rps: m.rps, newConnPerSec: m.newConnPerSec, states });
    // The point above has the rates of runs that reported since the last one: now they may drop.
    for (const s of this.sources.values()) s.releaseHeldRates();
    this.findings = this.computeFindings(m);
  }

  /** The run most worth showing: the newest running one, else the newest. */
  currentRun(): RunState | undefined {
    let newest: RunState | undefined;
    let running: RunState | undefined;
    for (const r of this.runs.values()) {
      if (!newest || r.startedAt >= newest.startedAt) newest = r;
      if (r.running && (!running || r.startedAt >= running.startedAt)) running = r;
    }
    return running ?? newest;
  }

  snapshot(): Snapshot {
    const now = this.now();
    const m = this.mergedCounters();
    const hosts: Snapshot['hosts'] = {};
    for (const [name, h] of this.hosts) hosts[name] = h.snapshot(now);
    const run = this.currentRun();
    const lat = m.latency.summaryMs();
    const con = m.connect.summaryMs();
    return {
      v: PROTOCOL_VERSION,
      type: 'snapshot',
      at: now,
      startedAt: this.startedAt,
      sources: [...this.sources.values()].map((s) => s.snapshot()),
      hosts,
      merged: {
        requests: m.requests,
        connectionsOpened: m.connectionsOpened,
        rps: m.rps,
        newConnPerSec: m.newConnPerSec,
        requestsPerConnection: m.connectionsOpened > 0 ? m.requests / m.connectionsOpened : 0,
        latencyMs: { mean: lat.mean, p50: lat.p50, p90: lat.p90, p99: lat.p99, p999: lat.p999, max: lat.max },
        connectMs: { mean: con.mean, p50: con.p50, p99: con.p99, max: con.max },
        errors: m.errors,
      },
      history: this.historyView(this.o.snapshotHistory),
      connections: this.connectionRows(now),
      findings: this.findings,
      run: run
        ? {
            id: run.id,
            ...(run.scenario !== undefined ? { scenario: run.scenario } : {}),
            ...(run.target !== undefined ? { target: run.target } : {}),
            startedAt: run.startedAt,
            running: run.running,
          }
        : null,
    };
  }

  historyView(n: number): Snapshot['history'] {
    const pts = this.history.toArray(n);
    const states: Snapshot['history']['states'] = {};
    pts.forEach((p, i) => {
      for (const [host, counts] of Object.entries(p.states)) {
        let byState = states[host];
        if (!byState) {
          byState = {};
          states[host] = byState;
        }
        for (const [state, c] of Object.entries(counts)) {
          let arr = byState[state];
          if (!arr) {
            arr = new Array(pts.length).fill(0);
            byState[state] = arr;
          }
          arr[i] = c;
        }
      }
    });
    return {
      at: pts.map((p) => p.at),
      rps: pts.map((p) => p.rps),
      newConnPerSec: pts.map((p) => p.newConnPerSec),
      states,
    };
  }

  /**
   * Totals and rates of the load side: the agents when there are any, else the servers
   * (a server and the agent loading it count the same requests; adding both would double them).
   */
  mergedCounters() {
    const all = [...this.sources.values()];
    const hasAgents = all.some((s) => s.role === 'agent');
    const load = all.filter((s) => s.role === (hasAgents ? 'agent' : 'server'));
    const out = {
      requests: 0,
      connectionsOpened: 0,
      reusedRequests: 0,
      rps: 0,
      newConnPerSec: 0,
      errors: {} as Record<string, number>,
      latency: new LatencyHistogram(),
      connect: new LatencyHistogram(),
    };
    for (const s of load) {
      const t = s.totals;
      out.requests += t.requests;
      out.connectionsOpened += t.connectionsOpened;
      out.reusedRequests += t.reusedRequests;
      if (s.connected) {
        out.rps += s.rates.rps;
        out.newConnPerSec += s.rates.newConnPerSec;
      }
      for (const [code, n] of Object.entries(s.errors)) out.errors[code] = (out.errors[code] ?? 0) + n;
      if (s.latency.count > 0) out.latency.merge(s.latency);
      if (s.connect.count > 0) out.connect.merge(s.connect);
    }
    return out;
  }

  /**
   * Findings about what is on screen: the current run when there is one (its own report's
   * findings once it ended, else its running totals with its configuration), otherwise the
   * merged counters. The TCP side comes from the run's own host (the client), else the host
   * whose ephemeral ports are in the worst shape.
   */
  private computeFindings(m: ReturnType<Aggregator['mergedCounters']>): Finding[] {
    const now = this.now();
    const run = this.currentRun();
    if (run && !run.running && run.report) return run.report.findings.slice(0, 20);
    let counts: {
      requests: number;
      connectionsOpened: number;
      reusedRequests: number;
      errors: Record<string, number>;
    } = m;
    let hostName: string | undefined;
    if (run) {
      const source = [...this.sources.values()].find((s) => s.id === run.sourceId);
      const rt = source?.runTotals(run.id);
      if (rt) counts = { ...rt.totals, errors: rt.errors };
      if (source && this.hosts.has(source.host)) hostName = source.host;
    }
    let tcp:
      | { inUse: number; range: readonly [number, number] | null; timeWait: number; timeWaitPerSec: number }
      | undefined;
    for (const h of this.hosts.values()) {
      if (hostName !== undefined && h.name !== hostName) continue;
      const s = h.snapshot(now);
      const tw = s.states['TIME_WAIT'] ?? 0;
      const inUse = s.ephemeral?.inUse ?? 0;
      if (!tcp || inUse > tcp.inUse || (inUse === tcp.inUse && tw > tcp.timeWait)) {
        tcp = { inUse, range: s.ephemeral?.range ?? null, timeWait: tw, timeWaitPerSec: h.growth().timeWaitPerSec };
      }
    }
    const cfg = run?.config ?? {};
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    const bool = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
    try {
      return findingsFor({
        requests: counts.requests,
        connectionsOpened: counts.connectionsOpened,
        reusedRequests: counts.reusedRequests,
        errors: counts.errors,
        keepAlive: bool(cfg['keepAlive']),
        consumeBody: bool(cfg['consumeBody']),
        connections: num(cfg['connections']),
        maxIdle: num(cfg['maxIdle']),
        ...(tcp
          ? {
              timeWait: tcp.timeWait,
              timeWaitPerSec: tcp.timeWaitPerSec,
              ephemeralRange: tcp.range,
              ephemeralInUse: tcp.inUse,
            }
          : {}),
      }).slice(0, 20);
    } catch {
      return [];
    }
  }

  /** Socket rows for the connections table: the current run's port first, listeners last. */
  private connectionRows(now: number): Snapshot['connections'] {
    let port: string | undefined;
    const target = this.currentRun()?.target;
    if (target) {
      try {
        const u = new URL(target);
        port = u.port || (u.protocol === 'https:' ? '443' : '80');
      } catch {}
    }
    const rank = (r: { local: string; remote: string; state: string }) =>
      (port !== undefined && (r.local.endsWith(`:${port}`) || r.remote.endsWith(`:${port}`)) ? 0 : 2) +
      (r.state === 'LISTEN' ? 1 : 0);
    const all: { local: string; remote: string; state: string; host: string; rank: number }[] = [];
    for (const h of this.hosts.values())
      for (const r of h.sockets(now)) all.push({ ...r, host: h.name, rank: rank(r) });
    all.sort((a, b) => a.rank - b.rank);
    return all.slice(0, this.o.maxConnectionRows).map((r) => {
      // A server's ledger knows the age and request count of the connection from this peer.
      const c = this.openConns.get(`${r.host}\u0000${r.remote}`);
      return {
        state: r.state,
        local: r.local,
        remote: r.remote,
        ageMs: c ? Math.max(0, now - c.openedAt) : null,
        requests: c ? c.requests : null,
      };
    });
  }

  private beginRun(source: SourceState, m: Partial<RunStarted> & { runId: string }): RunState {
    const existing = this.runs.get(m.runId);
    if (existing) {
      if (m.target !== undefined) existing.target = m.target;
      if (m.engine !== undefined) existing.engine = m.engine;
      if (m.scenario !== undefined) existing.scenario = m.scenario;
      if (m.config !== undefined) existing.config = m.config;
      return existing;
    }
    if (this.runs.size >= this.o.maxRuns) {
      for (const [id, r] of this.runs) {
        if (!r.running) {
          this.runs.delete(id);
          break;
        }
      }
      if (this.runs.size >= this.o.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
    }
    const run: RunState = {
      id: m.runId,
      sourceId: source.id,
      source: { name: source.name, host: source.host },
      startedAt: this.now(),
      running: true,
    };
    if (m.target !== undefined) run.target = m.target;
    if (m.engine !== undefined) run.engine = m.engine;
    if (m.scenario !== undefined) run.scenario = m.scenario;
    if (m.config !== undefined) run.config = m.config;
    this.runs.set(run.id, run);
    this.emit('run-started', run);
    return run;
  }

  private endRun(run: RunState, outcome: RunState['outcome']): void {
    const wasRunning = run.running;
    run.running = false;
    run.outcome = outcome;
    run.endedAt = this.now();
    // A lost run that later reports is ended again with its report (the recorder appends it).
    if (wasRunning || outcome === 'completed') this.emit('run-ended', run);
  }
}
