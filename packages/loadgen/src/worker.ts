import type { MessagePort } from 'node:worker_threads';
import { engineThatRuns, type RunEngineName } from './defaults.js';
import { createDialer } from './dial.js';
import { Driver } from './driver.js';
import { type Engine, type EngineContext, localAddressRing, type WorkerSlice } from './engine.js';
import type { ResolvedOptions } from './options.js';
import { requestShape } from './request-shape.js';
import { type StatsEnvelope, WorkerStats } from './worker-stats.js';

/** Main → worker, as the piscina task. */
export interface WorkerTask {
  options: ResolvedOptions;
  slice: WorkerSlice;
  port: MessagePort;
}

/** Main → worker over the task's port. */
export type ControlMessage = { type: 'go' } | { type: 'stop'; graceMs: number } | { type: 'flush' };
/** Worker → main over the task's port: 'ready' once its engine exists, then stats envelopes. */
export type WorkerMessage = { type: 'ready'; worker: number } | StatsEnvelope;

/** How long in-flight requests may take to finish once a duration bound is reached. */
const DEADLINE_GRACE_MS = 2000;

/**
 * The engine reports name (engineThatRuns: without keep-alive, undici and net hand over to
 * churn), loaded when a run needs it: a worker of the net engine never loads undici or
 * node:http2 (undici alone costs a worker about 0.1 s of CPU to load).
 */
const ENGINE_OF: Record<RunEngineName, () => Promise<(ctx: EngineContext) => Engine>> = {
  undici: async () => (await import('./engine-undici.js')).createUndiciEngine,
  http: async () => (await import('./engine-http.js')).createHttpEngine,
  h2: async () => (await import('./engine-h2c.js')).createH2cEngine,
  net: async () => (await import('./engine-net.js')).createNetEngine,
  churn: async () => (await import('./engine-churn.js')).createChurnEngine,
};

export async function createEngine(ctx: EngineContext): Promise<Engine> {
  return (await ENGINE_OF[engineThatRuns(ctx.options)]())(ctx);
}

/** The piscina task: run this worker's slice and return its final stats. */
export default async function runWorker(task: WorkerTask): Promise<StatsEnvelope> {
  const { options, slice, port } = task;
  const stats = new WorkerStats(slice.index);
  const url = new URL(options.target);
  const engine = await createEngine({
    options,
    slice,
    url,
    stats,
    nextLocalAddress: localAddressRing(options.localAddresses, slice.index),
    shape: requestShape(url, options.method, options.headers, options.body),
    dial: createDialer(url, options.tls, stats),
  });
  const pipelined =
    (options.engine === 'undici' || options.engine === 'net') && options.keepAlive && options.consumeBody;
  // h2: `-c` sessions, each carrying `--streams` concurrent streams (slot i rides session i % sessions).
  const perConnection = pipelined ? options.pipelining : engineThatRuns(options) === 'h2' ? (options.streams ?? 1) : 1;
  const driver = new Driver(engine, stats, {
    slice,
    perConnection,
    durationMs: options.durationMs,
  });
  let grace = DEADLINE_GRACE_MS;

  const go = new Promise<void>((resolve) => {
    port.on('message', (m: ControlMessage) => {
      if (m.type === 'go') resolve();
      // The main thread's tick: answer with this interval's envelope (aggregation per tick).
      else if (m.type === 'flush') port.postMessage(stats.envelope(false) satisfies WorkerMessage);
      else if (m.type === 'stop') {
        grace = m.graceMs;
        resolve();
        driver.stop();
      }
    });
  });
  port.postMessage({ type: 'ready', worker: slice.index } satisfies WorkerMessage);
  await go;
  driver.start();

  // A duration bound, or a stop: in-flight requests get `grace` ms, then are torn down.
  let graceTimer: NodeJS.Timeout | null = null;
  driver.stopping.then(() => {
    graceTimer = setTimeout(() => driver.abandon(), grace);
  });
  await driver.finished;
  if (graceTimer) clearTimeout(graceTimer);
  await engine.close();
  // The final envelope goes over the same port as the ticks, so it arrives after them.
  const final = stats.envelope(true);
  port.postMessage(final satisfies WorkerMessage);
  port.close();
  return final;
}
