/**
 * Per-second rates over a sliding window of one-second buckets. Events are counted with
 * `add()` (cheap: one array slot), rates are read per tick.
 */
export class RateWindow {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;
  private total = 0;

  constructor(
    private readonly windowSeconds = 10,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
      throw new RangeError('windowSeconds must be a positive integer');
    this.buckets = new Float64Array(windowSeconds);
    this.stamps = new Float64Array(windowSeconds).fill(-1);
  }

  add(n = 1): void {
    const sec = Math.floor(this.now() / 1000);
    const i = sec % this.windowSeconds;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
    this.total += n;
  }

  /** Everything ever added. */
  get count(): number {
    return this.total;
  }

  /** Events in the last complete second (the current one is still filling). */
  lastSecond(): number {
    const sec = Math.floor(this.now() / 1000) - 1;
    const i = ((sec % this.windowSeconds) + this.windowSeconds) % this.windowSeconds;
    return this.stamps[i] === sec ? this.buckets[i]! : 0;
  }

  /** Mean events per second over the last `seconds` complete seconds. */
  rate(seconds = this.windowSeconds - 1): number {
    const span = Math.min(seconds, this.windowSeconds - 1);
    const nowSec = Math.floor(this.now() / 1000);
    let sum = 0;
    for (let k = 1; k <= span; k++) {
      const sec = nowSec - k;
      const i = ((sec % this.windowSeconds) + this.windowSeconds) % this.windowSeconds;
      if (this.stamps[i] === sec) sum += this.buckets[i]!;
    }
    return span > 0 ? sum / span : 0;
  }
}

/** Turns a monotonically growing counter into a per-second rate between two readings. */
export class CounterRate {
  private lastValue: number | undefined;
  private lastAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the rate per second since the previous call (0 on the first call). */
  update(value: number): number {
    const at = this.now();
    const prev = this.lastValue;
    const prevAt = this.lastAt;
    this.lastValue = value;
    this.lastAt = at;
    if (prev === undefined || at <= prevAt) return 0;
    return Math.max(0, ((value - prev) * 1000) / (at - prevAt));
  }
}
