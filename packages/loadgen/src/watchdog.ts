/**
 * The per-request timeout's clock: one coarse, unref'd interval per engine that scans
 * what is in flight, instead of a timer per request. It ticks every min(250 ms,
 * timeout / 4) (at least 10 ms), so a request times out between `timeoutMs` and
 * `timeoutMs` + one tick (plus event-loop lag) after it was sent, never before.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | null;

  constructor(
    readonly timeoutMs: number,
    scan: (now: number) => void,
  ) {
    this.timer = setInterval(() => scan(performance.now()), watchdogIntervalMs(timeoutMs));
    // In-flight sockets keep the worker alive; the watchdog alone never does.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function watchdogIntervalMs(timeoutMs: number): number {
  return Math.max(10, Math.min(250, Math.floor(timeoutMs / 4)));
}

/** The error a timed-out request fails with: counted under `errors.ETIMEDOUT`, like a kernel timeout. */
export function timeoutError(timeoutMs: number): Error {
  return Object.assign(new Error(`no complete response within ${timeoutMs} ms (--timeout)`), { code: 'ETIMEDOUT' });
}

/**
 * Progress-based expiry for a connection whose requests complete in order (HTTP/1.1):
 * no timestamp per request. Each scan notes the connection's `settled` count (requests
 * ended on it, ever); while requests are in flight and that count has not moved for
 * `timeoutMs` since the first scan that saw it, the oldest request has waited at least that
 * long (it was sent before that scan).
 */
export class ProgressMark {
  private seen = -1;
  private since = 0;

  /** True when the connection has had requests in flight and no progress for `timeoutMs`. */
  expired(now: number, inFlight: number, settled: number, timeoutMs: number): boolean {
    if (inFlight === 0 || settled !== this.seen) {
      this.seen = inFlight === 0 ? -1 : settled;
      this.since = now;
      return false;
    }
    return now - this.since >= timeoutMs;
  }
}
