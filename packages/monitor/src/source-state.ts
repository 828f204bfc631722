import { LatencyHistogram } from '@kalab/core';
import type { ErrorCounts, Report, Role, SourceSnapshot, Tick } from '@kalab/protocol';
import { decodeForMerge, decodeHistogram, mergeDecoded } from './histogram-guard.js';

interface Totals {
  requests: number;
  connectionsOpened: number;
  reusedRequests: number;
}

/** What `latency` and `connect` read as before a source has sent a histogram (never written to). */
const EMPTY = new LatencyHistogram();

const zeroTotals = (): Totals => ({ requests: 0, connectionsOpened: 0, reusedRequests: 0 });

function addErrors(into: Record<string, number>, from: ErrorCounts): void {
  for (const [code, n] of Object.entries(from)) into[code] = (into[code] ?? 0) + n;
}

/**
 * Everything the hub knows about one source (a server or a loadgen agent), keyed by
 * role + name + host so a source that reconnects keeps its history.
 *
 * Totals are cumulative over the source's life: runs that ended are folded into `base`,
 * the running one is the latest tick's totals (ticks carry totals since their run began).
 */
export class SourceState {
  connected = true;
  lost = false;
  lastSeen: number;
  /** The id of the peer currently speaking for this source. */
  peerId: string;
  runId: string | undefined;
  running = false;
  /** The latest interval's rates; after a report, held until one history point has them (see holdRates). */
  rates = { rps: 0, newConnPerSec: 0 };
  /** True while `rates` are a finished run's, kept for the next history point. */
  ratesHeld = false;
  /** The run whose tick set `rates` last ('' for a source without runs). */
  private ratesRun: string | undefined;
  openConnections = 0;
  /** https:// runs: TLS handshakes as the latest tick said them (null until a tick carries them). */
  tls: { handshakesPerSec: number; handshakes: number; resumed: number } | null = null;
  /**
   * Latency and connect time of the current (or last) run, merged from the ticks' interval
   * histograms: read-only here (SourceState adds to them itself). A source that never sent one
   * (every server) shares one empty histogram instead of holding two 86 KB counts arrays.
   */
  get latency(): LatencyHistogram {
    return this.ownLatency ?? EMPTY;
  }
  get connect(): LatencyHistogram {
    return this.ownConnect ?? EMPTY;
  }
  private ownLatency: LatencyHistogram | null = null;
  private ownConnect: LatencyHistogram | null = null;

  private base = zeroTotals();
  private baseErrors: Record<string, number> = {};
  private current: { runKey: string; totals: Totals; errors: ErrorCounts } | undefined;
  private lastRun: { runKey: string; totals: Totals; errors: ErrorCounts } | undefined;
  /** Runs already folded, so a late tick cannot count them twice. */
  private readonly finished = new Set<string>();

  constructor(
    readonly id: string,
    readonly key: string,
    readonly role: Role,
    readonly name: string,
    readonly host: string,
    peerId: string,
    now: number,
  ) {
    this.peerId = peerId;
    this.lastSeen = now;
  }

  onTick(t: Tick, now: number): void {
    this.lastSeen = now;
    const runKey = t.runId ?? '';
    if (t.runId !== undefined && this.finished.has(t.runId)) return;
    // Decode first: a bad histogram must not leave the source half updated.
    const latency = t.latencyHistogram ? decodeForMerge(t.latencyHistogram, this.latency) : undefined;
    const connect = t.connectHistogram ? decodeForMerge(t.connectHistogram, this.connect) : undefined;
    const totals: Totals = {
      requests: t.totals.requests,
      connectionsOpened: t.totals.connectionsOpened,
      reusedRequests: t.totals.reusedRequests ?? 0,
    };
    // A new run, or a server that restarted (its totals went backwards): keep what came before.
    if (this.current && (this.current.runKey !== runKey || totals.requests < this.current.totals.requests))
      this.foldCurrent();
    if (!this.current) this.beginRun(runKey);
    this.current = { runKey, totals, errors: t.errors };
    if (t.runId !== undefined) {
      this.runId = t.runId;
      this.running = true;
    }
    this.rates = { rps: t.rates.rps, newConnPerSec: t.rates.newConnPerSec };
    this.ratesRun = runKey;
    this.ratesHeld = false;
    this.openConnections = t.openConnections;
    if (t.totals.tlsHandshakes !== undefined)
      this.tls = {
        handshakesPerSec: t.rates.handshakesPerSec ?? 0,
        handshakes: t.totals.tlsHandshakes,
        resumed: t.totals.tlsResumed ?? 0,
      };
    if (latency) {
      this.ownLatency ??= new LatencyHistogram();
      mergeDecoded(this.ownLatency, latency);
    }
    if (connect) {
      this.ownConnect ??= new LatencyHistogram();
      mergeDecoded(this.ownConnect, connect);
    }
  }

  onRunStarted(runId: string, now: number): void {
    this.lastSeen = now;
    if (this.current && this.current.runKey !== runId) this.foldCurrent();
    if (!this.current) {
      this.beginRun(runId);
      this.current = { runKey: runId, totals: zeroTotals(), errors: {} };
    }
    this.runId = runId;
    this.running = true;
  }

  /** The run's own report is the exact account: it replaces whatever the ticks said. */
  onRunReport(runId: string, report: Report, now: number): void {
    this.lastSeen = now;
    if (this.finished.has(runId)) return;
    const latency = report.latencyHistogram ? decodeHistogram(report.latencyHistogram) : undefined;
    if (this.current && this.current.runKey !== runId) this.foldCurrent();
    if (!this.current) this.beginRun(runId);
    this.current = {
      runKey: runId,
      totals: {
        requests: report.requests.completed,
        connectionsOpened: report.connections.opened,
        reusedRequests: report.connections.reusedRequests,
      },
      errors: report.errors,
    };
    if (latency) this.ownLatency = latency;
    this.foldCurrent();
    this.runId = runId;
    this.running = false;
    this.holdRates(runId, report);
    this.openConnections = 0;
  }

  /**
   * A report ends the run, but its rate must not vanish before the monitor's per-second
   * history has sampled it: a run shorter than a history interval (most scenario phases)
   * would otherwise never show a rate to any viewer. The run's last rates (or, with no tick
   * of this run, the report's own averages) stay until the next history point has taken
   * them (`releaseHeldRates`, called by the aggregator's tick), then drop to 0.
   */
  private holdRates(runId: string, report: Report): void {
    if (this.ratesRun !== runId) {
      const seconds = report.durationMs / 1000;
      this.rates = {
        rps: report.throughput.rps,
        newConnPerSec: seconds > 0 ? report.connections.opened / seconds : 0,
      };
      this.ratesRun = runId;
    }
    this.ratesHeld = this.rates.rps > 0 || this.rates.newConnPerSec > 0;
    if (!this.ratesHeld) this.rates = { rps: 0, newConnPerSec: 0 };
  }

  /** After a history point: a finished run's held rates have been seen, so they drop to 0. */
  releaseHeldRates(): void {
    if (!this.ratesHeld) return;
    this.ratesHeld = false;
    this.rates = { rps: 0, newConnPerSec: 0 };
  }

  onRunRefused(runId: string, now: number): void {
    this.lastSeen = now;
    if (this.runId === runId) this.running = false;
  }

  /** The connection dropped: `lost` when it died without a close frame or missed a heartbeat. */
  onDisconnected(lost: boolean): void {
    this.connected = false;
    this.lost = lost;
    this.rates = { rps: 0, newConnPerSec: 0 };
    this.ratesHeld = false;
  }

  onReconnected(peerId: string, now: number): void {
    this.peerId = peerId;
    this.connected = true;
    this.lost = false;
    this.lastSeen = now;
  }

  get totals(): Totals {
    const c = this.current?.totals ?? zeroTotals();
    return {
      requests: this.base.requests + c.requests,
      connectionsOpened: this.base.connectionsOpened + c.connectionsOpened,
      reusedRequests: this.base.reusedRequests + c.reusedRequests,
    };
  }

  /** Totals of one run (the running one, or the last that ended), for findings about that run. */
  runTotals(runId: string): { totals: Totals; errors: ErrorCounts } | undefined {
    if (this.current?.runKey === runId) return this.current;
    if (this.lastRun?.runKey === runId) return this.lastRun;
    return undefined;
  }

  get errors(): Record<string, number> {
    const out = { ...this.baseErrors };
    if (this.current) addErrors(out, this.current.errors);
    return out;
  }

  snapshot(): SourceSnapshot {
    const totals = this.totals;
    const errors = this.errors;
    let errorCount = 0;
    for (const n of Object.values(errors)) errorCount += n;
    const s: SourceSnapshot = {
      id: this.id,
      name: this.name,
      role: this.role,
      host: this.host,
      connected: this.connected,
      lost: this.lost,
      lastSeen: this.lastSeen,
      totals: { requests: totals.requests, connectionsOpened: totals.connectionsOpened, errors: errorCount },
      rates: { ...this.rates },
      openConnections: this.openConnections,
      errors,
    };
    if (this.runId !== undefined) s.runId = this.runId;
    if (this.tls) s.tls = { ...this.tls };
    if (this.latency.count > 0) {
      const { count: _count, ...ms } = this.latency.summaryMs();
      s.latencyMs = ms;
    }
    return s;
  }

  private beginRun(runKey: string): void {
    if (runKey !== '' || this.latency.count > 0) {
      this.ownLatency = null;
      this.ownConnect = null;
    }
  }

  private foldCurrent(): void {
    const c = this.current;
    if (!c) return;
    this.lastRun = c;
    this.base.requests += c.totals.requests;
    this.base.connectionsOpened += c.totals.connectionsOpened;
    this.base.reusedRequests += c.totals.reusedRequests;
    addErrors(this.baseErrors, c.errors);
    if (c.runKey !== '') {
      this.finished.add(c.runKey);
      // Bounded: only late ticks of recent runs matter.
      if (this.finished.size > 100) this.finished.delete(this.finished.values().next().value as string);
    }
    this.current = undefined;
  }
}
