import { PROTOCOL_VERSION } from '@kalab/core';
import { runLoad } from '@kalab/loadgen';
import type { DriverContext, DriverExtras } from './driver.js';

/**
 * Phases that are load runs (port-exhaustion, http2-multiplexing) go through the lab's own
 * load generator, so the scenario shows what `kalab loadgen` does: its churn engine
 * (`--no-keepalive`, the client closes each connection) and its h2c engine (one session
 * per worker, `-c` streams on it). Its ticks and report are relayed as they come.
 */
export async function loadDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const h2c = ctx.phase.driver === 'h2c';
  if (h2c && ctx.h2cPort === null) throw new Error('the h2c phase needs the server h2c listener');
  const target = `http://${ctx.host}:${h2c ? ctx.h2cPort : ctx.port}/`;
  const run = runLoad({
    target,
    engine: h2c ? 'h2c' : 'undici',
    keepAlive: h2c ? true : client.keepAlive,
    connections: client.concurrency,
    requests: client.requests * client.concurrency,
    consumeBody: client.consumeBody,
    workers: 1,
    scenario: ctx.scenario,
    signal: ctx.signal,
    tickMs: 250,
  });
  let runId = '';
  run.on('start', (info) => {
    runId = info.runId;
    ctx.emit({ v: PROTOCOL_VERSION, type: 'run-started', runId: info.runId, target: info.target, engine: info.engine, config: info.config, scenario: ctx.scenario });
  });
  run.on('tick', (tick) => ctx.emit(tick));
  let timeWaitPeak = 0;
  run.on('tcp-sample', (s) => {
    timeWaitPeak = Math.max(timeWaitPeak, s.ephemeral?.timeWait ?? 0);
  });
  const report = await run.result;
  if (runId) ctx.emit({ v: PROTOCOL_VERSION, type: 'run-report', runId, report });
  const first = report.firstErrors?.['EADDRNOTAVAIL'];
  return {
    fromReport: {
      connectionsOpened: report.connections.opened,
      reusedRequests: report.connections.reusedRequests,
      requests: { sent: report.requests.sent, ok: report.requests.ok, failed: report.requests.failed },
      errors: report.errors,
    },
    timeWaitPeak: Math.max(timeWaitPeak, report.host.timeWaitPeak),
    ...(h2c ? { streams: report.requests.completed } : { exhaustedAfterMs: first ? Math.round(first.atMs) : null }),
  };
}
