import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
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
  /** The phase's request latency and connect time (µs), for its report and observed.latencyMs. */
  readonly latency = new LatencyHistogram();
  readonly connect = new LatencyHistogram();
  /** The same since the last tick: each tick carries its interval's histograms, then resets them. */
  private readonly intervalLatency = new LatencyHistogram();
  private readonly intervalConnect = new LatencyHistogram();
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
    const us = (performance.now() - startedAt) * 1000;
    this.latency.recordUs(us);
    this.intervalLatency.recordUs(us);
  }

  /** A connection the client opened finished its handshake; `startedAt` is when it asked for it (performance.now()). */
  connected(startedAt: number): void {
    const us = (performance.now() - startedAt) * 1000;
    this.connect.recordUs(us);
    this.intervalConnect.recordUs(us);
  }

  /** The interval's histograms (HdrHistogram compressed base64, absent when empty), then a fresh interval. */
  takeInterval(): { latencyHistogram?: string; connectHistogram?: string } {
    const out: { latencyHistogram?: string; connectHistogram?: string } = {};
    if (this.intervalLatency.count > 0) out.latencyHistogram = this.intervalLatency.encode();
    if (this.intervalConnect.count > 0) out.connectHistogram = this.intervalConnect.encode();
    this.intervalLatency.reset();
    this.intervalConnect.reset();
    return out;
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
  /** The phase's request latency when the driver's own numbers hold it (runLoad's report). */
  latency?: LatencyHistogram;
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

/**
 * Progress marks of one run (ms since it began), so its final tick carries an honest rate:
 * over the last second, or over the whole run when it is shorter — requests / elapsed. The
 * interval since the previous tick alone can be a few ms and a handful of requests, and a
 * monitor shows that rate until the run's report (its per-second history samples it).
 */
export class RateMarks {
  private readonly marks: { atMs: number; requests: number; opened: number }[] = [{ atMs: 0, requests: 0, opened: 0 }];

  add(atMs: number, requests: number, opened: number): void {
    this.marks.push({ atMs, requests, opened });
    // Keep one mark at least a second old; older ones are never used again.
    while (this.marks.length > 2 && this.marks[1]!.atMs <= atMs - 1000) this.marks.shift();
  }

  /** Rates per second from the newest mark at least a second before `atMs` (else the start) to `atMs`. */
  since(atMs: number, requests: number, opened: number): { rps: number; newConnPerSec: number } {
    let from = this.marks[0]!;
    for (const m of this.marks) if (m.atMs <= atMs - 1000) from = m;
    const secs = Math.max(0.001, (atMs - from.atMs) / 1000);
    return {
      rps: Math.max(0, (requests - from.requests) / secs),
      newConnPerSec: Math.max(0, (opened - from.opened) / secs),
    };
  }
}

/**
 * Counts a node:http request's connection: reused, or newly opened (then its connect time
 * and its close). `sockets` keeps the open ones so the driver can tear them down at the end.
 */
export function trackRequestSocket(req: ClientRequest, c: PhaseCounters, sockets: Set<Socket>): void {
  req.on('socket', (socket: Socket) => {
    if (req.reusedSocket) {
      c.reused++;
      return;
    }
    c.connectionOpened();
    sockets.add(socket);
    // Connect time: from the socket the Agent handed out to its handshake.
    const connecting = performance.now();
    socket.once('connect', () => c.connected(connecting));
    socket.once('close', () => {
      c.closed++;
      sockets.delete(socket);
    });
  });
}
