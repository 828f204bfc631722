import { EventEmitter } from 'node:events';
import type { TcpSample } from '@kalab/core';
import {
  type ConnectionEvent,
  type Finding,
  PROTOCOL_VERSION,
  type Report,
  type Role,
  type RunStarted,
  type Snapshot,
  type Tick,
} from '@kalab/protocol';
import { ConnectionTable } from './connection-table.js';
import { History } from './history.js';
import { HostState } from './host-state.js';
import { type MergedCounters, mergeLoadSources } from './merged-counters.js';
import { findingsNow } from './run-findings.js';
import { type RunState, RunTable } from './run-table.js';
import { SourceState } from './source-state.js';

export type { RunState } from './run-table.js';

export interface AggregatorOptions {
  historySize: number;
  maxSources: number;
  maxHosts: number;
  maxRuns: number;
  maxConnectionRows: number;
  /** A host sample older than this no longer counts toward the host's states. */
  sampleFreshMs: number;
  /** The newest history points put in each snapshot (at most historySize are kept). */
  snapshotHistory: number;
}

export interface AggregatorEvents {
  'run-started': [RunState];
  'run-ended': [RunState];
}

/**
 * Folds what sources send into one picture: per-source totals and rates, per-host TCP
 * states, merged latency, runs, findings and bounded per-second history. Pure state:
 * the hub feeds it messages and asks it for snapshots; it owns no sockets or timers.
 */
export class Aggregator extends EventEmitter<AggregatorEvents> {
  readonly sources = new Map<string, SourceState>();
  readonly hosts = new Map<string, HostState>();
  private readonly runTable: RunTable;
  private readonly history: History;
  private readonly connections: ConnectionTable;
  private findings: Finding[] = [];
  private nextSourceId = 1;
  readonly startedAt: number;

  constructor(
    private readonly o: AggregatorOptions,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.history = new History(o.historySize);
    this.connections = new ConnectionTable(o.maxConnectionRows);
    this.runTable = new RunTable(o.maxRuns, now, {
      started: (run) => this.emit('run-started', run),
      ended: (run) => this.emit('run-ended', run),
    });
    this.startedAt = now();
  }

  get runs(): ReadonlyMap<string, RunState> {
    return this.runTable.runs;
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
    if (lost) this.runTable.endRunsOf(source.id, 'lost');
    // `kalab observe` sends no run-report (its report is not a load report): its goodbye ends its run.
    else if (source.role === 'observer') this.runTable.endRunsOf(source.id, 'completed');
  }

  onTick(source: SourceState, t: Tick): void {
    source.onTick(t, this.now());
    if (t.runId !== undefined && !this.runTable.get(t.runId)) this.runTable.begin(source, { runId: t.runId });
  }

  onRunStarted(source: SourceState, m: RunStarted): void {
    source.onRunStarted(m.runId, this.now());
    this.runTable.begin(source, m);
  }

  onRunReport(source: SourceState, runId: string, report: Report): void {
    source.onRunReport(runId, report, this.now());
    const run =
      this.runTable.get(runId) ??
      this.runTable.begin(source, { runId, target: report.target, engine: report.engine, config: report.config });
    run.report = report;
    if (run.running || run.outcome === 'lost') this.runTable.end(run, 'completed');
  }

  onRunRefused(source: SourceState, runId: string, code: string, message: string): void {
    source.onRunRefused(runId, this.now());
    const run = this.runTable.get(runId) ?? this.runTable.begin(source, { runId });
    run.refused = { code, message };
    if (run.running) this.runTable.end(run, 'refused');
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
    this.connections.onEvents(source.host, events);
  }

  /** Once per second: history point, growth rates, findings. */
  tick(): void {
    const now = this.now();
    for (const h of this.hosts.values()) h.onTick(now);
    const m = this.mergedCounters();
    const states: Record<string, Record<string, number>> = {};
    for (const [name, h] of this.hosts) states[name] = h.snapshot(now).states;
    this.history.push({ at: now, rps: m.rps, newConnPerSec: m.newConnPerSec, states });
    // The point above has the rates of runs that reported since the last one: now they may drop.
    for (const s of this.sources.values()) s.releaseHeldRates();
    this.findings = findingsNow(this.currentRun(), m, this.sources.values(), this.hosts, now);
  }

  /** The run most worth showing: the newest running one, else the newest. */
  currentRun(): RunState | undefined {
    return this.runTable.current();
  }

  mergedCounters(): MergedCounters {
    return mergeLoadSources(this.sources.values());
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
      history: this.history.view(this.o.snapshotHistory),
      connections: this.connections.rows(this.hosts.values(), run?.target, now),
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
}
