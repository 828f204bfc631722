import { LatencyHistogram, type ScenarioObserved, type ScenarioPhase, type SourceMessage } from '@kalab/core';

/** Running totals of one phase, written by its driver and read by the ticker. */
export class PhaseCounters {
  sent = 0;
  ok = 0;
  non2xx = 0;
  failed = 0;
  opened = 0;
  closed = 0;
  reused = 0;
  resetsOnReusedSocket = 0;
  retries = 0;
  readonly errors: Record<string, number> = {};
  readonly latency = new LatencyHistogram();
  readonly connect = new LatencyHistogram();
  /** Most connections open at once. */
  maxOpen = 0;

  connectionOpened(): void {
    this.opened++;
    this.maxOpen = Math.max(this.maxOpen, this.opened - this.closed);
  }

  error(err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    const key = typeof code === 'string' && code.length <= 64 ? code : 'UNKNOWN';
    this.errors[key] = (this.errors[key] ?? 0) + 1;
    this.failed++;
  }

  response(status: number, startedAt: number): void {
    if (status >= 200 && status < 300) this.ok++;
    else this.non2xx++;
    this.latency.recordUs((performance.now() - startedAt) * 1000);
  }
}

export interface DriverContext {
  phase: ScenarioPhase;
  /** Pause between two requests of one worker for this run (short, or the article's with --faithful). */
  gapMs: number;
  host: string;
  port: number;
  /** The h2c listener's port, when the phase has one. */
  h2cPort: number | null;
  counters: PhaseCounters;
  /** Aborted when the phase runs past its timeout or the user stops the run. */
  signal: AbortSignal;
  scenario: string;
  /** Relays a protocol message (drivers backed by runLoad forward its ticks and report). */
  emit(msg: SourceMessage): void;
  /** A one-line note for the user. */
  note(text: string): void;
}

/** What a driver measured beyond the counters: scenario-specific numbers. */
export type DriverExtras = Partial<Pick<ScenarioObserved, 'exhaustedAfterMs' | 'timeWaitPeak' | 'streams'>> & {
  /** True when the driver's own numbers (runLoad's report) replace the counters. */
  fromReport?: {
    connectionsOpened: number;
    reusedRequests: number;
    requests: { sent: number; ok: number; failed: number };
    errors: Record<string, number>;
  };
};

/**
 * A driver runs one phase's client against the lab server and returns once every
 * connection it opened has been closed the way the phase says (the client closes first
 * with closeAtEnd 'client'). It never runs past ctx.signal.
 */
export type Driver = (ctx: DriverContext) => Promise<DriverExtras>;

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
