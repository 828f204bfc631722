import { DOCTOR_DEFAULTS } from './defaults.js';
import type { CloseKind, ProbeConnection } from './probe-connection.js';
import { onlyConnectionErrors, type ProbeContext } from './probe-context.js';

/** Shortest wait for the answer on a connection reused after its gap. */
const REUSE_WAIT_MIN_MS = 1_000;

/** What the idle phase saw. */
export interface IdleObservation {
  /** Idle time before the server closed, per connection that saw it close (ms, end of last response → FIN/RST). */
  samplesMs: number[];
  /** How those connections ended: a FIN, or a RST while idle. */
  closeKinds: CloseKind[];
  /** Longest idle gap after which a reused connection still answered. */
  aliveAfterMs: number | null;
  /** Shortest idle gap after which reuse failed although no FIN came (a silent drop). */
  deadAfterMs: number | null;
  /** How long the watching connection stayed idle without being closed, when none closed. */
  waitedMs: number;
}

/**
 * Measures the server's idle timeout by holding idle connections.
 *
 * The watcher (the probe's first connection, idle since its response) waits for the
 * server's FIN up to the deadline: a direct measurement from the end of the last
 * response to the FIN. Beside it, a small search: connections held idle for chosen
 * gaps and then reused. They catch servers and middleboxes that drop idle connections
 * without a FIN (reuse fails: RST or silence), and any of them that sees a FIN while
 * idle adds a sample. Once the watcher has its answer the search is cut short.
 */
export async function measureIdleTimeout(ctx: ProbeContext, watcher: ProbeConnection): Promise<IdleObservation> {
  const obs: IdleObservation = { samplesMs: [], closeKinds: [], aliveAfterMs: null, deadAfterMs: null, waitedMs: 0 };
  const search = new AbortController();
  const searchSignal = AbortSignal.any([ctx.signal, search.signal]);
  const window = ctx.remaining();
  const idleConns: ProbeConnection[] = [watcher];

  const probes = DOCTOR_DEFAULTS.reuseGapFractions.map(async (fraction) => {
    const gap = Math.floor(window * fraction);
    let conn: ProbeConnection;
    try {
      conn = await ctx.connect();
    } catch (err) {
      onlyConnectionErrors(err);
      return; // the search is best effort; the watcher carries the measurement
    }
    const sentAt = performance.now();
    const first = await conn.request(ctx.stepMs(), searchSignal);
    if (!first || first.closeAfter) {
      conn.destroy();
      return;
    }
    idleConns.push(conn);
    const idleUntil = first.endedAt + gap;
    // Stay idle for the gap unless the server closes first (then it is a sample, below).
    await conn.waitFor(() => false, idleUntil - performance.now(), searchSignal);
    if (conn.closed || searchSignal.aborted) return;
    const idledMs = performance.now() - first.endedAt;
    // A reused connection answers about as fast as a new one did; silence well past that is a drop.
    const reuseWaitMs = Math.min(ctx.stepMs(), Math.max(REUSE_WAIT_MIN_MS, 5 * (first.endedAt - sentAt)));
    const again = await conn.request(reuseWaitMs, searchSignal);
    if (again) {
      obs.aliveAfterMs = Math.max(obs.aliveAfterMs ?? 0, Math.round(idledMs));
    } else if (conn.closed ? conn.closeKind !== 'fin' || conn.outstanding > 0 : !searchSignal.aborted) {
      // Reuse after the gap was reset or went unanswered with no FIN before it: a silent drop.
      obs.deadAfterMs = Math.min(obs.deadAfterMs ?? Number.POSITIVE_INFINITY, Math.round(idledMs));
    }
    conn.destroy();
  });

  const idleSince = watcher.lastResponse!.endedAt;
  await watcher.waitFor(() => false, ctx.remaining(), ctx.signal);
  if (watcher.closed) {
    // Connections of the search that went idle a moment later close a moment later:
    // give them a short grace to add their samples, then stop the search.
    const measured = (watcher.closedAt ?? performance.now()) - idleSince;
    const grace = Math.min(1_000, Math.max(100, measured * 0.2), ctx.remaining());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(probes), new Promise((r) => (timer = setTimeout(r, grace)))]);
    clearTimeout(timer);
    search.abort();
  }
  await Promise.all(probes);

  for (const conn of idleConns) {
    const last = conn.lastResponse;
    // A sample only from a connection that was idle (nothing outstanding) when the server closed it.
    if (
      !conn.closed ||
      (conn.closeKind !== 'fin' && conn.closeKind !== 'reset') ||
      !last ||
      conn.outstanding !== 0 ||
      conn.closedAt === undefined
    )
      continue;
    if (last.closeAfter) continue;
    obs.samplesMs.push(conn.closedAt - last.endedAt);
    obs.closeKinds.push(conn.closeKind!);
  }
  if (obs.samplesMs.length === 0) obs.waitedMs = Math.round(performance.now() - idleSince);
  for (const conn of idleConns) if (conn !== watcher) conn.destroy();
  return obs;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
