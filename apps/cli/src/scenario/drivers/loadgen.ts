import { PROTOCOL_VERSION } from '@kalab/core';
import { runLoad } from '@kalab/loadgen';
import type { DriverContext, DriverExtras } from './driver.js';

/**
 * Phases that are load runs (port-exhaustion) go through the lab's own load generator, so
 * the scenario shows what `kalab loadgen --no-keepalive` does: its churn engine, where the
 * client closes each connection. Its ticks and report are relayed as they come.
 */
export async function loadgenDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const run = runLoad({
    target: `http://${ctx.host}:${ctx.port}/`,
    engine: 'undici',
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
    exhaustedAfterMs: first ? Math.round(first.atMs) : null,
  };
}
