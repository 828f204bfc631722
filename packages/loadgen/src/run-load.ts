import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { TcpSample } from '@kalab/core';
import { PROTOCOL_VERSION, type RunStarted, type Tick } from '@kalab/protocol';
import { Piscina } from 'piscina';
import { Aggregate } from './aggregate.js';
import { buildReport, configOf, type LoadReport } from './build-report.js';
import { engineThatRuns, type RunEngineName } from './defaults.js';
import type { WorkerSlice } from './engine.js';
import { HostSampler } from './host-sampler.js';
import { type LoadOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { ControlMessage, WorkerMessage, WorkerTask } from './worker.js';
import type { StatsEnvelope } from './worker-stats.js';

/** The young generation of each worker's V8 heap, in MiB (see the Piscina options below). */
const WORKER_YOUNG_GENERATION_MB = 8;

/**
 * The built worker. src/ and dist/ sit at the same depth under the package root, so this
 * resolves to dist/worker.js both from dist/run-load.js and from src/run-load.ts (tests).
 */
export const WORKER_URL = new URL('../dist/worker.js', import.meta.url);

/** How long in-flight requests may finish after stop() / an abort / SIGINT. */
const STOP_GRACE_MS = 500;

export interface RunStartInfo {
  runId: string;
  target: string;
  engine: string;
  config: Record<string, unknown>;
  workers: number;
}

/** The protocol's run-started message for a run that began (`scenario` names a scenario's run). */
export function runStartedMessage(s: RunStartInfo, scenario?: string | null): RunStarted {
  return {
    v: PROTOCOL_VERSION,
    type: 'run-started',
    runId: s.runId,
    target: s.target,
    engine: s.engine,
    config: s.config,
    ...(scenario ? { scenario } : {}),
  };
}

export interface LoadRunEvents {
  /** Every worker is ready; with a gate, the run waits for it before 'start'. */
  ready: [];
  /** Workers are ready and the clock started. */
  start: [RunStartInfo];
  /** About once a second (tickMs): core's TickSchema message. */
  tick: [Tick];
  /** A sample of this host's TCP table, taken with each tick. */
  'tcp-sample': [TcpSample];
  /** The final report (also when stopped early). */
  done: [LoadReport];
  /** The run could not run at all (a worker failed to start). */
  error: [Error];
}

/**
 * One load run, like autocannon's runner: an emitter with `tick` and `done`, and stop().
 * `result` resolves with the same report `done` carries (or rejects with `error`).
 */
export class LoadRun extends EventEmitter<LoadRunEvents> {
  readonly runId: string;
  readonly options: ResolvedOptions;
  readonly result: Promise<LoadReport>;
  private stopReason: string | null = null;
  private ports: MessagePort[] = [];
  private started = false;
  private releaseStartWait: () => void = () => {};

  /**
   * `gate` (an agent's fan-out slice): workers get ready at once ('ready'), then go at the
   * instant (epoch ms) the gate resolves with; stop() opens it.
   */
  constructor(
    options: ResolvedOptions,
    runId: string,
    signal?: AbortSignal,
    private readonly gate?: Promise<number>,
  ) {
    super();
    this.options = options;
    this.runId = runId;
    this.result = new Promise((resolve, reject) => {
      // Started on the next tick so listeners attached right after runLoad() see every event.
      setImmediate(() => this.run().then(resolve, reject));
    });
    // An unobserved rejection is reported through 'error'; keep it from crashing the process.
    this.result.catch(() => {});
    if (signal) {
      if (signal.aborted) this.stop('stopped');
      else signal.addEventListener('abort', () => this.stop('stopped'), { once: true });
    }
  }

  /** Stops early: no new requests, in-flight ones get a moment, then `done` fires with stoppedEarly. */
  stop(reason = 'stopped'): void {
    if (this.stopReason !== null) return;
    this.stopReason = reason;
    this.releaseStartWait();
    const msg: ControlMessage = { type: 'stop', graceMs: STOP_GRACE_MS };
    for (const p of this.ports) p.postMessage(msg);
  }

  private async run(): Promise<LoadReport> {
    const o = this.options;
    const slices = splitSlices(o);
    const pool = new Piscina({
      filename: WORKER_URL.href,
      minThreads: slices.length,
      maxThreads: slices.length,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
      idleTimeout: 1000,
      // A small young generation: at 10,000 connections most of a worker's RSS was garbage V8
      // let pile up between scavenges (live: ~42 MB for the net engine). 8 MiB took a
      // `-c 10000` net worker from 201 to 177 MiB (bench/memory-bench.mjs --quick) with no
      // measurable change in req/s at -c 50 (4 alternating rounds each, 48-66k req/s both).
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    const agg = new Aggregate();
    const sampler = new HostSampler();
    let readyCount = 0;
    const finalized = new Set<number>();
    let allFinal: () => void = () => {};
    const finals = new Promise<void>((r) => {
      allFinal = r;
    });
    let startedAt = Date.now();
    let startedPerf = performance.now();
    let allReady: () => void = () => {};
    const ready = new Promise<void>((r) => {
      allReady = r;
    });
    const tasks = slices.map((slice) => {
      const { port1, port2 } = new MessageChannel();
      this.ports.push(port1);
      port1.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          if (++readyCount === slices.length) allReady();
        } else {
          agg.add(m);
          if (!m.final) onFlushed();
          if (m.final) {
            finalized.add(m.worker);
            if (finalized.size === slices.length) allFinal();
          }
        }
      });
      const task: WorkerTask = { options: o, slice, port: port2 };
      return pool.run(task, { transferList: [port2] as never }) as Promise<StatsEnvelope>;
    });
    const failed = Promise.all(tasks).then(
      () => new Promise<never>(() => {}),
      (err: unknown) => {
        throw err;
      },
    );

    let twFirst: { at: number; tw: number } | null = null;
    let twLast: { at: number; tw: number } | null = null;
    let ticker: NodeJS.Timeout | null = null;
    let flushTimer: NodeJS.Timeout | null = null;
    let awaiting = 0;
    const emitTick = () => {
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      const tick = agg.tick(this.runId, startedAt, Date.now());
      this.emit('tick', tick);
      // Nothing listening: the first tick saw only refused connects. Stop rather than hammer.
      if (tick.totals.connectionsOpened === 0 && (tick.errors['ECONNREFUSED'] ?? 0) > 0 && tick.totals.requests === 0)
        this.stop('unreachable');
      void sampler.sample().then((s) => {
        if (!s) return;
        if (s.ephemeral) {
          const point = { at: s.at, tw: s.ephemeral.timeWait };
          twFirst ??= point;
          twLast = point;
        }
        this.emit('tcp-sample', s);
      });
    };
    function onFlushed(): void {
      if (flushTimer && --awaiting <= 0) emitTick();
    }
    try {
      await Promise.race([ready, failed]);
      this.emit('ready');
      if (this.gate && this.stopReason === null) await this.waitForStart(this.gate);
      startedAt = Date.now();
      startedPerf = performance.now();
      this.started = true;
      for (const p of this.ports) p.postMessage({ type: 'go' } satisfies ControlMessage);
      if (this.stopReason !== null)
        for (const p of this.ports) p.postMessage({ type: 'stop', graceMs: STOP_GRACE_MS } satisfies ControlMessage);
      this.emit('start', {
        runId: this.runId,
        target: o.target,
        engine: this.engine,
        config: configOf(o),
        workers: slices.length,
      });
      void sampler.sample(true);
      // Each tick asks every worker for its envelope and emits once all have answered
      // (or after a quarter of the interval), so a tick covers the same interval everywhere.
      ticker = setInterval(() => {
        if (flushTimer) return;
        awaiting = slices.length - finalized.size;
        for (const p of this.ports) p.postMessage({ type: 'flush' } satisfies ControlMessage);
        flushTimer = setTimeout(emitTick, Math.max(10, o.tickMs / 4));
      }, o.tickMs);
      const results = await Promise.all(tasks);
      const durationMs = performance.now() - startedPerf;
      // Each worker's last envelope, after its ticks on the same port (bounded wait; the task's result otherwise).
      await Promise.race([finals, new Promise((r) => setTimeout(r, 2000).unref())]);
      for (const r of results) if (!finalized.has(r.worker)) agg.add(r);
      await sampler.sample(true);
      const f = twFirst as { at: number; tw: number } | null;
      const l = twLast as { at: number; tw: number } | null;
      const twRate = f && l && l.at - f.at >= 1000 ? (l.tw - f.tw) / ((l.at - f.at) / 1000) : undefined;
      const report = buildReport(o, agg, sampler.peak, durationMs, this.stopReason, twRate);
      this.emit('done', report);
      return report;
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      throw err;
    } finally {
      if (ticker) clearInterval(ticker);
      if (flushTimer) clearTimeout(flushTimer);
      for (const p of this.ports) p.close();
      await pool.destroy();
    }
  }

  private waitForStart(gate: Promise<number>): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.releaseStartWait = () => {
        clearTimeout(timer);
        resolve();
      };
      void gate.then((at) => {
        timer = setTimeout(resolve, Math.max(0, at - Date.now()));
      });
    });
  }

  /** The engine that carries the requests, as the report names it (`churn` for undici or net without keep-alive). */
  get engine(): RunEngineName {
    return engineThatRuns(this.options);
  }

  get running(): boolean {
    return this.started;
  }
}

/** Connections, request budget and rate split across workers (the first ones take the remainders). */
export function splitSlices(o: ResolvedOptions): WorkerSlice[] {
  const w = o.workers;
  const out: WorkerSlice[] = [];
  for (let i = 0; i < w; i++) {
    const share = (total: number) => Math.floor(total / w) + (i < total % w ? 1 : 0);
    out.push({
      index: i,
      connections: share(o.connections),
      requests: o.requests === null ? null : share(o.requests),
      rate: o.rate === null ? null : o.rate / w,
      maxIdle: share(o.maxIdle),
    });
  }
  return out;
}

/**
 * Starts a load run. Options are validated here, synchronously (BadOptionError naming
 * the flag); the run itself starts on the next tick.
 */
export function runLoad(options: LoadOptions): LoadRun {
  const resolved = resolveOptions(options);
  return new LoadRun(resolved, randomUUID(), options.signal);
}
