import { setTimeout as sleep } from 'node:timers/promises';
import { BadOptionError, isKalabError, parseInteger } from '@kalab/core';
import { buildObserveReport } from './build-report.js';
import { ConnectionTracker } from './connection-tracker.js';
import { MIN_INTERVAL_MS, OBSERVE_DEFAULTS } from './defaults.js';
import type { ObserveTick } from './observe-command.js';
import { observeTraced } from './observe-ebpf.js';
import { ProcessSockets } from './process-sockets.js';
import type { ObserveReport } from './report.js';
import { parseTracer, resolveTracer, TRACER_ENV, type TracerChoice } from './tracer-ebpf.js';

export interface ObservePidOptions {
  pid: number;
  /** Sampling interval (default 100 ms). */
  intervalMs?: number;
  /** Stop after this long; otherwise when the process exits or `signal` aborts. */
  durationMs?: number | null;
  onTick?: (tick: ObserveTick) => void;
  signal?: AbortSignal;
  /** Root of procfs (tests). */
  procRoot?: string;
  /** eBPF where it can run (auto, the default; else KALAB_OBSERVE_TRACER), always (exit 3 where it cannot), or never. */
  tracer?: TracerChoice;
  /** eBPF only: called once the tracer is attached. */
  onAttached?: () => void;
}

/**
 * Attaches to a running process without moving it: samples its sockets every interval until
 * it exits, the duration ends or `signal` aborts, and reports like `observeCommand`.
 */
export async function observePid(opts: ObservePidOptions): Promise<ObserveReport> {
  const pid = parseInteger('--pid', opts.pid, 1, 4_194_304);
  const intervalMs = opts.intervalMs ?? OBSERVE_DEFAULTS.intervalMs;
  if (!Number.isFinite(intervalMs) || intervalMs < MIN_INTERVAL_MS)
    throw new BadOptionError('--interval', `--interval must be at least ${MIN_INTERVAL_MS} ms, got ${intervalMs}`);
  const choice = opts.tracer ?? parseTracer(TRACER_ENV, process.env[TRACER_ENV]);
  if (!opts.procRoot && resolveTracer(choice) === 'ebpf')
    return observeTraced({
      target: { pid },
      durationMs: opts.durationMs ?? null,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onAttached ? { onAttached: opts.onAttached } : {}),
    });
  const proc = new ProcessSockets(pid, opts.procRoot);
  const command = proc.command();
  const tracker = new ConnectionTracker(null);
  tracker.add({ atMs: 0, sockets: proc.sample(0) ?? [] }); // throws for a process that is not there or not readable
  const t0 = performance.now();
  const until = opts.durationMs ? t0 + opts.durationMs : Number.POSITIVE_INFINITY;
  let lastTick = 0;
  while (!opts.signal?.aborted && performance.now() < until) {
    const next = intervalMs - ((performance.now() - t0) % intervalMs);
    await sleep(next, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
    if (opts.signal?.aborted) break;
    try {
      const atMs = Math.round(performance.now() - t0);
      const sockets = proc.sample(atMs);
      if (sockets) tracker.add({ atMs, sockets });
      else tracker.unchanged(atMs);
    } catch (err) {
      if (isKalabError(err) && (err as BadOptionError).option === '--pid') break; // it exited: report what was seen
      throw err;
    }
    if (opts.onTick && tracker.durationMs - lastTick >= 1000) {
      lastTick = tracker.durationMs;
      opts.onTick({ ...tracker.tick(), requests: 0 });
    }
  }
  opts.onTick?.({ ...tracker.tick(), requests: 0 }); // the final totals
  const report = buildObserveReport({
    command,
    mode: 'pid',
    pid,
    exitCode: null,
    intervalMs,
    tracker,
    counters: null,
    sandbox: null,
    serve: null,
    capture: null,
    namespace:
      proc.opens.first && proc.opens.last
        ? {
            activeOpens: proc.opens.last[0] - proc.opens.first[0],
            passiveOpens: proc.opens.last[1] - proc.opens.first[1],
          }
        : null,
  });
  report.limits += ` ${proc.fullReads} of the ${tracker.sampleCount} samples read the whole table; the others found the namespace's socket counters unchanged (a peer's FIN alone does not move them, so a CLOSE_WAIT can show up late: by 1 s, or 50 times what a full read of a very large table costs).`;
  return report;
}
