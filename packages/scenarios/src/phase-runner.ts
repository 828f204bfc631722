import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type LatencyHistogram, readSnmp, sampleTcp } from '@kalab/core';
import { Aggregate, assembleReport, WorkerStats } from '@kalab/loadgen';
import { PROTOCOL_VERSION, type SourceMessage } from '@kalab/protocol';
import { channels, createLabServer } from '@kalab/server';
import { phaseGapMs, type ScenarioDefinition, type ScenarioPhase } from './catalog/index.js';
import type { Driver, DriverContext } from './drivers/driver.js';
import { h2cDriver } from './drivers/h2c.js';
import { httpPoolDriver } from './drivers/http-pool.js';
import { loadgenDriver } from './drivers/loadgen.js';
import { raceDriver } from './drivers/race.js';
import { undiciBodyDriver } from './drivers/undici-body.js';
import { RateMarks } from './rate-marks.js';
import { settledStates } from './tcp-view.js';
import type { ObservedLatencyMs, RunObserved } from './types.js';

const DRIVERS: Record<ScenarioPhase['driver'], Driver> = {
  'http-pool': httpPoolDriver,
  race: raceDriver,
  undici: undiciBodyDriver,
  exhaustion: loadgenDriver,
  h2c: h2cDriver,
  tls: loadgenDriver,
};
/** Drivers that run the loadgen and relay its own run-started/tick/run-report. */
const LOAD_BACKED = new Set<ScenarioPhase['driver']>(['exhaustion', 'tls']);

/**
 * CPU time (ns) of this process's main thread, where the lab server runs (the loadgen's
 * requests run in its worker threads): Linux's per-thread schedstat, null elsewhere.
 */
function mainThreadCpuNs(): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

const TICK_MS = 250;

export interface PhaseEnv {
  def: ScenarioDefinition;
  faithful: boolean;
  /**
   * In a namespace the article's port is free: phase i listens on 8080 + 10·i (h2c one above),
   * so each phase's sockets, TIME_WAIT included, are told apart by port.
   */
  inNamespace: boolean;
  signal: AbortSignal;
  emit(msg: SourceMessage): void;
  note(text: string): void;
}

/** What a phase measured, with its latency histogram so the scenario can merge its phases'. */
export interface PhaseOutcome {
  observed: RunObserved;
  latency: LatencyHistogram;
}

export function observedLatency(h: LatencyHistogram): ObservedLatencyMs | undefined {
  if (h.count === 0) return undefined;
  const { p50, p99, max } = h.summaryMs();
  return { p50, p99, max };
}

/**
 * Runs one phase: a fresh lab server, the phase's client, then the kernel's view — SYNs
 * sent (ActiveOpens delta) and the TCP states on each side once every close has settled.
 * Its own ticks (drivers not backed by runLoad) carry the interval's latency and connect
 * histograms; the last one is sent as soon as the client is done, before the settling.
 */
export async function runPhase(phase: ScenarioPhase, index: number, env: PhaseEnv): Promise<PhaseOutcome> {
  const s = phase.server;
  const basePort = 8080 + 10 * index;
  const server = createLabServer({
    host: '127.0.0.1',
    port: env.inNamespace ? basePort : 0,
    keepAliveTimeout: s.keepAliveTimeoutMs ?? 5000,
    maxRequestsPerSocket: s.maxRequestsPerSocket ?? 0,
    close: s.close ?? false,
    delayUs: s.delayUs ?? 0,
    bodyBytes: s.bodyBytes === undefined || s.bodyBytes === 11 ? null : s.bodyBytes,
    h2cPort: s.h2c ? (env.inNamespace ? basePort + 1 : 0) : null,
    shutdownGraceMs: 100,
    ...(s.tls ? { tls: true } : {}),
  });
  const addr = await server.listen();
  const ports = addr.h2cPort === null ? [addr.port] : [addr.port, addr.h2cPort];
  const host = `sandbox:${env.def.name}`;
  const runId = `${env.def.name}-${phase.name}-${randomUUID().slice(0, 8)}`;
  const ownEvents = !LOAD_BACKED.has(phase.driver);
  const timeout = new AbortController();
  const onOuterAbort = () => timeout.abort();
  env.signal.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => {
    env.note(`${phase.name}: stopped at its ${phase.timeoutMs} ms bound`);
    timeout.abort();
  }, phase.timeoutMs);

  const startedAt = Date.now();
  const startedPerf = performance.now();
  // The loadgen's own accumulator: the driver counts into one worker's stats, the runner
  // merges them per tick like runLoad does, and the phase's report comes from the same builder.
  const stats = new WorkerStats(0);
  stats.t0 = startedPerf;
  const agg = new Aggregate();
  const synBefore = (await readSnmp()).Tcp.ActiveOpens;
  if (ownEvents) {
    env.emit({
      v: PROTOCOL_VERSION,
      type: 'run-started',
      runId,
      target: addr.url,
      engine: engineOf(phase),
      config: { phase: phase.name, ...phase.client, server: phase.server },
      scenario: env.def.name,
    });
  }
  const marks = new RateMarks();
  let timeWaitPeak = 0;
  /**
   * The stats so far merged into the aggregate and, for the phase's own events, a tick over the
   * interval since the previous one; the final one's rate is over the last second (or the whole run).
   */
  const emitTick = (final: boolean) => {
    agg.add(stats.envelope(final));
    if (!ownEvents) return;
    const tick = agg.tick(runId, startedAt, Date.now());
    if (final) tick.rates = marks.since(tick.elapsedMs, tick.totals.requests, tick.totals.connectionsOpened);
    marks.add(tick.elapsedMs, tick.totals.requests, tick.totals.connectionsOpened);
    env.emit(tick);
  };
  const sample = async () => {
    const s = await sampleTcp({ host, maxSockets: 100 }).catch(() => null);
    if (s) {
      timeWaitPeak = Math.max(timeWaitPeak, s.states['TIME_WAIT'] ?? 0);
      env.emit(s);
    }
  };
  const ticker = setInterval(() => {
    emitTick(false);
    void sample();
  }, TICK_MS);

  const ctx: DriverContext = {
    phase,
    gapMs: phaseGapMs(phase, env.faithful),
    host: '127.0.0.1',
    port: addr.port,
    h2cPort: addr.h2cPort,
    tls: s.tls === true,
    stats,
    signal: timeout.signal,
    scenario: env.def.name,
    emit: env.emit,
    note: env.note,
  };
  let extras: Awaited<ReturnType<Driver>>;
  // TLS phases: the server thread's CPU from the first TCP accept (before its handshake) to the
  // end of the last request, a window that leaves out the loadgen's start and end.
  let cpuStart: number | null = null;
  let cpuEnd: number | null = null;
  const onRequestEnd = () => {
    cpuEnd = mainThreadCpuNs();
  };
  if (server.tls) {
    server.tls.once('connection', () => {
      cpuStart = mainThreadCpuNs();
    });
    channels.requestEnd.subscribe(onRequestEnd);
  }
  try {
    extras = await DRIVERS[phase.driver](ctx);
  } finally {
    if (server.tls) channels.requestEnd.unsubscribe(onRequestEnd);
    clearTimeout(timer);
    clearInterval(ticker);
    env.signal.removeEventListener('abort', onOuterAbort);
    emitTick(true);
  }
  const { states, rows, settled } = await settledStates(ports);
  if (!settled) env.note(`${phase.name}: some connections were still closing when the table was read`);
  const synSent = (await readSnmp()).Tcp.ActiveOpens - synBefore;
  const ledger = await server.close({ graceMs: 0 });
  await sample();
  const durationMs = Math.round(performance.now() - startedPerf);

  const fromReport = extras.fromReport;
  const latency = extras.latency ?? agg.latency;
  const totals = agg.totals();
  const observed: PhaseOutcome['observed'] = {
    connectionsOpened: fromReport?.connectionsOpened ?? totals.opened,
    synSent,
    timeWait: { client: states.client['TIME_WAIT'] ?? 0, server: states.server['TIME_WAIT'] ?? 0 },
    errors: fromReport?.errors ?? agg.errors(),
    requests: fromReport?.requests ?? { sent: totals.sent, ok: totals.ok, failed: totals.failed },
    reusedRequests: fromReport?.reusedRequests ?? totals.reusedRequests,
    states,
    durationMs,
    timeWaitPeak: Math.max(
      timeWaitPeak,
      extras.timeWaitPeak ?? 0,
      states.client['TIME_WAIT'] ?? 0,
      states.server['TIME_WAIT'] ?? 0,
    ),
    serverClosedBy: Object.fromEntries(Object.entries(ledger.connections.closedBy).filter(([, n]) => n > 0)),
    sockets: rows,
  };
  if (extras.resetsOnReusedSocket !== undefined) observed.resetsOnReusedSocket = extras.resetsOnReusedSocket;
  if (extras.retries !== undefined) observed.retries = extras.retries;
  if (extras.clientIdleCloses !== undefined) observed.clientIdleCloses = extras.clientIdleCloses;
  if (extras.exhaustedAfterMs !== undefined) observed.exhaustedAfterMs = extras.exhaustedAfterMs;
  if (extras.openedBeforeExhaustion !== undefined) observed.openedBeforeExhaustion = extras.openedBeforeExhaustion;
  if (extras.streams !== undefined) observed.streams = extras.streams;
  if (s.tls) {
    observed.tls = {
      handshakes: extras.tls?.handshakes ?? 0,
      resumed: extras.tls?.resumed ?? 0,
      serverHandshakes: ledger.tls?.handshakes ?? 0,
      serverResumed: ledger.tls?.resumed ?? 0,
    };
    if (cpuStart !== null && cpuEnd !== null && ledger.requests.total > 0)
      observed.serverCpuUsPerRequest = Math.round((cpuEnd - cpuStart) / 1000 / ledger.requests.total);
  }
  const latencyMs = observedLatency(latency);
  if (latencyMs) observed.latencyMs = latencyMs;
  if (ownEvents)
    env.emit({
      v: PROTOCOL_VERSION,
      type: 'run-report',
      runId,
      // The phase as a kalab.report/v1 report, so a monitor shows it like any load run.
      report: assembleReport(agg, durationMs, {
        target: addr.url,
        engine: engineOf(phase),
        config: { phase: phase.name, ...phase.client },
        host: { ephemeralRange: null, timeWaitPeak: observed.timeWaitPeak ?? 0 },
        findings: [],
      }),
    });
  return { observed, latency };
}

function engineOf(phase: ScenarioPhase): 'undici' | 'http' | 'h2c' {
  return phase.driver === 'undici' ? 'undici' : phase.driver === 'h2c' ? 'h2c' : 'http';
}
