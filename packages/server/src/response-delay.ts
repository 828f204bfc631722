/**
 * Waits at least `us` microseconds without blocking the event loop (other connections keep
 * being served, like the article's Go server that sleeps 50 µs per request).
 *
 * Precision (documented in docs/server.md):
 * - below 1 ms: the wait polls `process.hrtime` once per event-loop turn via setImmediate.
 *   It never ends early; it overshoots by about one loop turn (a few µs on an idle loop,
 *   more when the loop is busy with other connections).
 * - 1 ms and above: setTimeout for the whole milliseconds but one, then setImmediate
 *   polling for the rest, so timer granularity (~1 ms) never cuts the wait short.
 */
export function delayUs(us: number, done: () => void): void {
  if (us <= 0) {
    done();
    return;
  }
  const deadline = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  const poll = (): void => {
    if (process.hrtime.bigint() >= deadline) done();
    else setImmediate(poll);
  };
  const wholeMs = Math.floor(us / 1000) - 1;
  if (wholeMs >= 1) setTimeout(poll, wholeMs);
  else setImmediate(poll);
}
