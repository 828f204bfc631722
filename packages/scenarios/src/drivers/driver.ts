import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { LatencyHistogram } from '@kalab/core';
import type { WorkerStats } from '@kalab/loadgen';
import type { SourceMessage } from '@kalab/protocol';
import type { ScenarioObserved, ScenarioPhase } from '../catalog/index.js';

export interface DriverContext {
  phase: ScenarioPhase;
  /** Pause between two requests of one worker for this run (short, or the article's with --faithful). */
  gapMs: number;
  host: string;
  port: number;
  /** The h2c listener's port, when the phase has one. */
  h2cPort: number | null;
  /** The server speaks TLS on `port` (its certificate is the phase's own, self-signed). */
  tls: boolean;
  /** The phase's counters and histograms: the loadgen's own accumulator, so a phase reports like a load run. */
  stats: WorkerStats;
  /** Aborted when the phase runs past its timeout or the user stops the run. */
  signal: AbortSignal;
  scenario: string;
  /** Relays a protocol message (drivers backed by runLoad forward its ticks and report). */
  emit(msg: SourceMessage): void;
  /** A one-line note for the user. */
  note(text: string): void;
}

/** What a driver measured beyond the stats: scenario-specific numbers. */
export type DriverExtras = Partial<
  Pick<
    ScenarioObserved,
    | 'exhaustedAfterMs'
    | 'openedBeforeExhaustion'
    | 'timeWaitPeak'
    | 'streams'
    | 'resetsOnReusedSocket'
    | 'retries'
    | 'clientIdleCloses'
  >
> & {
  /** True when the driver's own numbers (runLoad's report) replace the stats. */
  fromReport?: {
    connectionsOpened: number;
    reusedRequests: number;
    requests: { sent: number; ok: number; failed: number };
    errors: Record<string, number>;
  };
  /** The phase's request latency when the driver's own numbers hold it (runLoad's report). */
  latency?: LatencyHistogram;
  /** TLS phases: the client's handshakes and resumed sessions (runLoad's report). */
  tls?: { handshakes: number; resumed: number };
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

/** Microseconds since `startedAt` (a performance.now() reading), as WorkerStats records them. */
export const usSince = (startedAt: number): number => (performance.now() - startedAt) * 1000;

/**
 * Counts a node:http request's connection: reused, or newly opened (then its connect time
 * and its close). `sockets` keeps the open ones so the driver can tear them down at the end.
 */
export function trackRequestSocket(req: ClientRequest, stats: WorkerStats, sockets: Set<Socket>): void {
  req.on('socket', (socket: Socket) => {
    if (req.reusedSocket) {
      stats.c.reusedRequests++;
      return;
    }
    sockets.add(socket);
    // Connect time: from the socket the Agent handed out to its handshake.
    const connecting = performance.now();
    let opened = false;
    const open = () => {
      opened = true;
      stats.opened(usSince(connecting));
    };
    if (socket.connecting) socket.once('connect', open);
    else open();
    socket.once('close', () => {
      if (opened) stats.closed();
      sockets.delete(socket);
    });
  });
}
