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
