import { LatencyHistogram } from '@kalab/core';
import { runLoad } from '@kalab/loadgen';
import { PROTOCOL_VERSION, type Report, type Tick } from '@kalab/protocol';
import { RateMarks } from '../rate-marks.js';
import type { DriverContext, DriverExtras } from './driver.js';

/**
 * Phases that are load runs (port-exhaustion, the TLS scenarios) go through the lab's own load generator, so
 * the scenario shows what `kalab loadgen --no-keepalive` does: its churn engine, where the
 * client closes each connection. Its ticks and report are relayed as they come, with one
 * tick of ours before the report for what the last interval held (runLoad ticks on a timer
 * only, so a run shorter than its tick interval would otherwise send no latency at all).
 */
export async function loadgenDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  // TLS phases: node:http's Agent on TLS sockets (https.Agent's pool and session cache), the phase's self-signed certificate accepted.
  const tls = ctx.tls;
  const run = runLoad({
    target: `${tls ? 'https' : 'http'}://${ctx.host}:${ctx.port}/`,
    engine: ctx.phase.driver === 'tls' ? 'http' : 'undici',
    ...(tls ? { insecure: true, ...(client.tlsResume !== undefined ? { tlsResume: client.tlsResume } : {}) } : {}),
    keepAlive: client.keepAlive,
    connections: client.concurrency,
    requests: client.requests * client.concurrency,
    consumeBody: client.consumeBody,
    workers: 1,
    scenario: ctx.scenario,
    signal: ctx.signal,
    tickMs: 250,
  });
  let runId = '';
  let startedAt = Date.now();
  run.on('start', (info) => {
    runId = info.runId;
    startedAt = Date.now();
    ctx.emit({
      v: PROTOCOL_VERSION,
      type: 'run-started',
      runId: info.runId,
      target: info.target,
      engine: info.engine,
      config: info.config,
      scenario: ctx.scenario,
    });
  });
  // What the relayed ticks held, so the last tick carries only the rest.
  const ticked = new LatencyHistogram();
  const marks = new RateMarks();
  let lastTick: Tick | undefined;
  run.on('tick', (tick) => {
    if (tick.latencyHistogram) ticked.merge(LatencyHistogram.decode(tick.latencyHistogram));
    marks.add(tick.elapsedMs, tick.totals.requests, tick.totals.connectionsOpened);
    lastTick = tick;
    ctx.emit(tick);
  });
  let timeWaitPeak = 0;
  run.on('tcp-sample', (s) => {
    timeWaitPeak = Math.max(timeWaitPeak, s.ephemeral?.timeWait ?? 0);
  });
  const report = await run.result;
  const latency = report.latencyHistogram ? LatencyHistogram.decode(report.latencyHistogram) : new LatencyHistogram();
  if (runId) {
    ctx.emit(finalTick(runId, startedAt, report, latency, ticked, marks, lastTick));
    ctx.emit({ v: PROTOCOL_VERSION, type: 'run-report', runId, report });
  }
  const first = report.firstErrors?.['EADDRNOTAVAIL'];
  return {
    fromReport: {
      connectionsOpened: report.connections.opened,
      reusedRequests: report.connections.reusedRequests,
      requests: { sent: report.requests.sent, ok: report.requests.ok, failed: report.requests.failed },
      errors: report.errors,
    },
    latency,
    ...(report.tls ? { tls: { handshakes: report.tls.handshakes, resumed: report.tls.resumed } } : {}),
    timeWaitPeak: Math.max(timeWaitPeak, report.host.timeWaitPeak),
    exhaustedAfterMs: first ? Math.round(first.atMs) : null,
    // Every connection of the run had its port by the first EADDRNOTAVAIL: no port comes free
    // during the phase (TIME_WAIT holds it 60 s, tcp_tw_reuse=0, the phase is bounded at 30 s),
    // so one that completed after the error had its port (and sent its SYN) before it. The
    // report's firstErrors.afterConnections counts only handshakes done by then, and up to
    // `concurrency` connects are still under way when the range runs out.
    openedBeforeExhaustion: first ? report.connections.opened : null,
  };
}

/** The run's last tick from its report: its totals, the latency no relayed tick carried, the last second's rates. */
function finalTick(
  runId: string,
  startedAt: number,
  report: Report,
  latency: LatencyHistogram,
  ticked: LatencyHistogram,
  marks: RateMarks,
  lastTick: Tick | undefined,
): Tick {
  const elapsedMs = Math.max(report.durationMs, lastTick?.elapsedMs ?? 0);
  const tick: Tick = {
    v: PROTOCOL_VERSION,
    type: 'tick',
    runId,
    seq: (lastTick?.seq ?? -1) + 1,
    at: Math.max(startedAt + Math.round(elapsedMs), lastTick?.at ?? 0),
    elapsedMs,
    totals: {
      requests: report.requests.completed,
      ok: report.requests.ok,
      non2xx: report.requests.non2xx,
      failed: report.requests.failed,
      connectionsOpened: report.connections.opened,
      reusedRequests: report.connections.reusedRequests,
    },
    rates: marks.since(elapsedMs, report.requests.completed, report.connections.opened),
    openConnections: 0,
    errors: report.errors,
  };
  if (latency.count > ticked.count) {
    const rest = new LatencyHistogram().merge(latency);
    rest.h.subtract(ticked.h);
    if (rest.count > 0) tick.latencyHistogram = rest.encode();
  }
  return tick;
}
