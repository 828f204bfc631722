import { BadOptionError, BusyError, LatencyHistogram, UnreachableError } from '@kalab/core';
import {
  type AgentCapsWire,
  type AgentInfo,
  type ClockPong,
  envelope,
  type FanOutPart,
  type FanOutStart,
  parseTargetSpec,
  type Report,
  type ResolvedCaps,
  type RunOptions,
  type Tick,
} from '@kalab/protocol';
import { FANOUT_DEFAULTS } from './defaults.js';
import { splitFanOut } from './fan-out-split.js';
import { isLiveAgent, type Peer } from './peer.js';

type Send = (peer: Peer, msg: object) => void;

/** One agent's share of a fan-out, from its clock probe to its report (or its loss). */
interface Slot {
  peer: Peer;
  name: string;
  host: string;
  runId: string;
  options: RunOptions;
  samples: { offsetMs: number; rttMs: number }[];
  ping: { id: string; t0: number } | undefined;
  offsetMs: number;
  rttMs: number;
  /** preparing: run-start (held) sent; clock: its workers are ready, its clock is probed; ready: waiting for the others. */
  state: 'preparing' | 'clock' | 'ready' | 'starting' | 'running' | 'done' | 'lost';
  tick: Tick | undefined;
  latency: LatencyHistogram;
  connect: LatencyHistogram;
  part: FanOutPart | undefined;
}

interface FanOutRun {
  id: string;
  viewer: Peer;
  slots: Slot[];
  startAt: number;
  readyTimer: NodeJS.Timeout | undefined;
  progressTimer: NodeJS.Timeout | undefined;
  seq: number;
}

/**
 * A connected agent that takes runs: `kalab loadgen --agent` announces its caps in its hello;
 * other agent-role sources (a standalone `kalab loadgen --monitor`, the dashboard's own run
 * link) only report and never answer a run-start.
 */
function takesRuns(p: Peer): p is Peer & { source: NonNullable<Peer['source']>; agent: { caps: AgentCapsWire } } {
  return isLiveAgent(p) && p.agent?.caps != null;
}

/**
 * One run across many agents: picks idle agents, splits the load within their caps, measures
 * each agent's clock offset (ping/pong, shortest round trip wins), starts every agent at one
 * agreed instant on its own clock, streams merged progress to the viewer that asked, and hands
 * it every agent's report, or the last totals of an agent lost on the way.
 */
export class FanOut {
  private readonly runs = new Map<string, FanOutRun>();
  /** Agent run id → its slot, for the ticks and reports agents send. */
  private readonly slots = new Map<string, { run: FanOutRun; slot: Slot }>();

  constructor(
    private readonly peers: () => Iterable<Peer>,
    private readonly send: Send,
    private readonly o: typeof FANOUT_DEFAULTS = FANOUT_DEFAULTS,
  ) {}

  /** Connected agents with what they announced and whether they are free. */
  list(): AgentInfo[] {
    const out: AgentInfo[] = [];
    for (const p of this.peers()) {
      if (!takesRuns(p)) continue;
      const busy = this.isBusy(p);
      out.push({
        name: p.source.name,
        host: p.source.host,
        version: p.agent.version,
        cores: p.agent.cores,
        caps: p.agent.caps,
        state: busy ? 'running' : 'idle',
        ...(p.source.runId !== undefined && busy ? { runId: p.source.runId } : {}),
      });
    }
    return out;
  }

  /** Starts a fan-out for `viewer`; throws (nothing started) when the agents cannot take it. */
  start(viewer: Peer, msg: FanOutStart): void {
    if (this.runs.has(msg.runId)) throw new BadOptionError('runId', `a fan-out "${msg.runId}" is already running`);
    if (msg.options.connections === undefined)
      throw new BadOptionError('-c', 'a fan-out needs its connection count to split it');
    const live = [...this.peers()].filter(takesRuns);
    const idle = live.filter((p) => !this.isBusy(p));
    const want = msg.agents === 'all' ? idle.length : msg.agents;
    if (live.length === 0) throw new UnreachableError('no agent is connected');
    if (idle.length === 0) throw new BusyError(`every connected agent (${live.length}) is busy with another run`);
    if (want > idle.length) {
      throw new UnreachableError(
        `--agents ${want}: only ${idle.length} idle agent${idle.length === 1 ? ' is' : 's are'} connected (${live.length} connected)`,
      );
    }
    const chosen = idle.slice(0, want);
    const capsOf = (p: (typeof chosen)[number]): ResolvedCaps => {
      const c = p.agent.caps;
      return { ...c, allowTargets: c.allowTargets === null ? null : c.allowTargets.map(parseTargetSpec) };
    };
    const slices = splitFanOut(
      { ...msg.options, connections: msg.options.connections },
      chosen.map((p) => ({ name: p.source.name, caps: capsOf(p) })),
    );
    const run: FanOutRun = {
      id: msg.runId,
      viewer,
      slots: [],
      startAt: 0,
      readyTimer: undefined,
      progressTimer: undefined,
      seq: 0,
    };
    run.slots = chosen.map((p, i) => ({
      peer: p,
      name: p.source.name,
      host: p.source.host,
      runId: `${msg.runId}.${i + 1}`,
      options: slices[i]!,
      samples: [],
      ping: undefined,
      offsetMs: 0,
      rttMs: 0,
      state: 'preparing',
      tick: undefined,
      latency: new LatencyHistogram(),
      connect: new LatencyHistogram(),
      part: undefined,
    }));
    this.runs.set(run.id, run);
    // Every agent gets its workers ready first (seconds on a busy host); the start instant is
    // chosen once all of them are ready and their clocks are known.
    for (const slot of run.slots) {
      this.slots.set(slot.runId, { run, slot });
      this.send(
        slot.peer,
        envelope({ type: 'run-start' as const, runId: slot.runId, options: slot.options, hold: true }),
      );
    }
    run.readyTimer = setTimeout(() => this.giveUpOnSlow(run), this.o.readyTimeoutMs);
    run.readyTimer.unref();
    run.progressTimer = setInterval(() => this.progress(run), this.o.progressMs);
    run.progressTimer.unref();
  }

  /** A held slice's workers are ready: probe that agent's clock. */
  onRunReady(peer: Peer, runId: string): void {
    const e = this.slots.get(runId);
    if (!e || e.slot.peer !== peer || e.slot.state !== 'preparing') return;
    e.slot.state = 'clock';
    this.ping(e.slot);
  }

  /** Stops every agent of a fan-out (their reports still follow); false when there is no such fan-out. */
  stop(runId: string): boolean {
    const run = this.runs.get(runId);
    if (!run) return false;
    // A held agent opens its gate on run-stop and reports at once: every share still comes back.
    for (const s of run.slots) if (!s.part) this.send(s.peer, envelope({ type: 'run-stop' as const, runId: s.runId }));
    return true;
  }

  /** A source message that belongs to a fan-out (clock pong, tick, report, refusal). */
  onClockPong(peer: Peer, m: ClockPong): void {
    const at = Date.now();
    const entry = [...this.slots.values()].find((e) => e.slot.peer === peer && e.slot.ping?.id === m.id);
    if (!entry) return;
    const { run, slot } = entry;
    const rttMs = Math.max(0, at - slot.ping!.t0);
    slot.samples.push({ offsetMs: m.at - (slot.ping!.t0 + rttMs / 2), rttMs });
    slot.ping = undefined;
    if (slot.samples.length < this.o.clockSamples) {
      this.ping(slot);
      return;
    }
    const best = slot.samples.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
    slot.offsetMs = best.offsetMs;
    slot.rttMs = best.rttMs;
    slot.state = 'ready';
    this.goWhenReady(run);
  }

  onTick(peer: Peer, t: Tick): void {
    const e = t.runId === undefined ? undefined : this.slots.get(t.runId);
    if (!e || e.slot.peer !== peer || e.slot.part) return;
    e.slot.state = 'running';
    e.slot.tick = t;
    if (t.latencyHistogram) e.slot.latency.merge(LatencyHistogram.decode(t.latencyHistogram));
    if (t.connectHistogram) e.slot.connect.merge(LatencyHistogram.decode(t.connectHistogram));
  }

  onRunReport(peer: Peer, runId: string, report: Report): void {
    const e = this.slots.get(runId);
    if (!e || e.slot.peer !== peer || e.slot.part) return;
    this.settle(e.run, e.slot, { outcome: 'complete', report });
  }

  onRunRefused(peer: Peer, runId: string, message: string): void {
    const e = this.slots.get(runId);
    if (!e || e.slot.peer !== peer || e.slot.part) return;
    this.settle(e.run, e.slot, { outcome: 'refused', message, last: this.lastOf(e.slot) });
    // The others may all be ready and waiting only for this one.
    this.goWhenReady(e.run);
  }

  /** A peer is gone: a fan-out's agent is lost (the others go on); a fan-out's viewer takes its agents with it. */
  onPeerClosed(peer: Peer): void {
    for (const run of [...this.runs.values()]) {
      if (run.viewer === peer) {
        this.stop(run.id);
        continue;
      }
      const slot = run.slots.find((s) => s.peer === peer && !s.part);
      if (!slot) continue;
      this.settle(run, slot, { outcome: 'lost', last: this.lastOf(slot) });
      this.goWhenReady(run);
    }
  }

  close(): void {
    for (const run of this.runs.values()) this.forget(run);
  }

  private isBusy(p: Peer & { source: { running: boolean } }): boolean {
    if (p.source.running) return true;
    for (const e of this.slots.values()) if (e.slot.peer === p && !e.slot.part) return true;
    return false;
  }

  private ping(slot: Slot): void {
    slot.ping = { id: `${slot.runId}:${slot.samples.length}`, t0: Date.now() };
    this.send(slot.peer, envelope({ type: 'clock-ping' as const, ...slot.ping }));
  }

  /** Agents not ready in time are stopped (refused, with why); the others go. */
  private giveUpOnSlow(run: FanOutRun): void {
    for (const s of run.slots) {
      if (s.part || (s.state !== 'preparing' && s.state !== 'clock')) continue;
      this.send(s.peer, envelope({ type: 'run-stop' as const, runId: s.runId }));
      const what = s.state === 'preparing' ? 'its workers were not ready' : 'it did not answer the clock probe';
      this.settle(run, s, {
        outcome: 'refused',
        message: `${what} within ${this.o.readyTimeoutMs} ms`,
        last: this.lastOf(s),
      });
    }
    this.goWhenReady(run);
  }

  /** Every agent still in is ready and its clock known: one instant on the monitor's clock, told to each on its own. */
  private goWhenReady(run: FanOutRun): void {
    const open = run.slots.filter((s) => !s.part);
    if (open.length === 0 || !open.every((s) => s.state === 'ready')) return;
    clearTimeout(run.readyTimer);
    const slowest = Math.max(...open.map((s) => s.rttMs));
    run.startAt = Date.now() + slowest + this.o.startLeadMs;
    for (const s of open) {
      s.state = 'starting';
      const startAt = Math.max(0, Math.round(run.startAt + s.offsetMs));
      this.send(s.peer, envelope({ type: 'run-go' as const, runId: s.runId, startAt }));
    }
    this.send(
      run.viewer,
      envelope({
        type: 'fanout-started' as const,
        runId: run.id,
        startAt: run.startAt,
        agents: open.map((s) => ({
          name: s.name,
          host: s.host,
          runId: s.runId,
          options: s.options,
          offsetMs: Math.round(s.offsetMs * 10) / 10,
          rttMs: s.rttMs,
        })),
      }),
    );
  }

  /** The merged tick: every agent's latest totals summed, rates summed, the longest elapsed time. */
  private progress(run: FanOutRun): void {
    const totals = {
      requests: 0,
      ok: 0,
      non2xx: 0,
      failed: 0,
      connectionsOpened: 0,
      connectionsClosed: 0,
      reusedRequests: 0,
    };
    const errors: Record<string, number> = {};
    let rps = 0;
    let newConnPerSec = 0;
    let open = 0;
    let elapsedMs = 0;
    // https:// runs: handshakes and resumed sessions summed too (the progress line's handshakes/s and % resumed).
    let tls: { handshakes: number; resumed: number; perSec: number } | null = null;
    for (const s of run.slots) {
      const t = s.tick;
      if (!t) continue;
      if (t.totals.tlsHandshakes !== undefined) {
        tls ??= { handshakes: 0, resumed: 0, perSec: 0 };
        tls.handshakes += t.totals.tlsHandshakes;
        tls.resumed += t.totals.tlsResumed ?? 0;
        if (s.state === 'running') tls.perSec += t.rates.handshakesPerSec ?? 0;
      }
      totals.requests += t.totals.requests;
      totals.ok += t.totals.ok ?? 0;
      totals.non2xx += t.totals.non2xx ?? 0;
      totals.failed += t.totals.failed ?? 0;
      totals.connectionsOpened += t.totals.connectionsOpened;
      totals.connectionsClosed += t.totals.connectionsClosed ?? 0;
      totals.reusedRequests += t.totals.reusedRequests ?? 0;
      for (const [k, n] of Object.entries(t.errors)) errors[k] = (errors[k] ?? 0) + n;
      elapsedMs = Math.max(elapsedMs, t.elapsedMs);
      // A finished or lost agent adds its totals, not a rate it no longer has.
      if (s.state === 'running') {
        rps += t.rates.rps;
        newConnPerSec += t.rates.newConnPerSec;
        open += t.openConnections;
      }
    }
    const now = Date.now();
    const tick: Tick = {
      v: 1,
      type: 'tick',
      runId: run.id,
      seq: run.seq++,
      at: now,
      elapsedMs,
      totals: { ...totals, ...(tls ? { tlsHandshakes: tls.handshakes, tlsResumed: tls.resumed } : {}) },
      rates: { rps, newConnPerSec, ...(tls ? { handshakesPerSec: tls.perSec } : {}) },
      openConnections: open,
      errors,
    };
    this.send(
      run.viewer,
      envelope({
        type: 'fanout-progress' as const,
        runId: run.id,
        tick,
        agents: run.slots.map((s) => ({
          name: s.name,
          state: s.state === 'running' || s.state === 'done' || s.state === 'lost' ? s.state : ('starting' as const),
          totals: {
            requests: s.tick?.totals.requests ?? 0,
            connectionsOpened: s.tick?.totals.connectionsOpened ?? 0,
            errors: Object.values(s.tick?.errors ?? {}).reduce((a, b) => a + b, 0),
          },
        })),
      }),
    );
  }

  /** What an agent that sent no report last said: its last tick's totals and every latency its ticks carried. */
  private lastOf(slot: Slot): FanOutPart['last'] {
    const t = slot.tick;
    return {
      elapsedMs: t?.elapsedMs ?? 0,
      totals: t?.totals ?? { requests: 0, connectionsOpened: 0 },
      errors: t?.errors ?? {},
      ...(slot.latency.count > 0 ? { latencyHistogram: slot.latency.encode() } : {}),
      ...(slot.connect.count > 0 ? { connectHistogram: slot.connect.encode() } : {}),
    };
  }

  private settle(run: FanOutRun, slot: Slot, how: Omit<FanOutPart, 'name' | 'host' | 'runId'>): void {
    slot.part = { name: slot.name, host: slot.host, runId: slot.runId, ...how };
    slot.state = how.outcome === 'lost' ? 'lost' : 'done';
    if (!run.slots.every((s) => s.part)) return;
    this.progress(run);
    this.send(
      run.viewer,
      envelope({ type: 'fanout-report' as const, runId: run.id, parts: run.slots.map((s) => s.part!) }),
    );
    this.forget(run);
  }

  private forget(run: FanOutRun): void {
    clearTimeout(run.readyTimer);
    clearInterval(run.progressTimer);
    for (const s of run.slots) this.slots.delete(s.runId);
    this.runs.delete(run.id);
  }
}
