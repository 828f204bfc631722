import type { Done, Engine, WorkerSlice } from './engine.js';
import type { WorkerStats } from './worker-stats.js';

export interface DriverOptions {
  slice: WorkerSlice;
  /** Requests kept in flight per connection in the closed model (undici pipelining). */
  perConnection: number;
  durationMs: number | null;
}

/**
 * Decides when requests are sent. Closed model: every slot sends its next request when
 * the previous one ends. Open model (`-R`): requests are due at fixed intended times and
 * latency is measured from the intended time, so a stalled server shows up in the
 * percentiles instead of silently slowing the sender (coordinated omission corrected by
 * scheduling). `finished` resolves when the bound is reached and nothing is in flight.
 */
export class Driver {
  readonly finished: Promise<void>;
  /** Resolves when the driver stops taking new requests (bound reached, or stop()). */
  readonly stopping: Promise<void>;
  private resolve!: () => void;
  private resolveStopping!: () => void;
  private remaining: number;
  private deadline = Number.POSITIVE_INFINITY;
  private stopped = false;
  private abandoned = false;
  private inFlight = 0;
  private readonly slots: Slot[] = [];
  private deferred = 0;
  private timer: NodeJS.Timeout | null = null;
  // Open model.
  private issued = 0;
  private backlog: number[] = [];
  private t0 = 0;

  constructor(
    private readonly engine: Engine,
    private readonly stats: WorkerStats,
    private readonly o: DriverOptions,
  ) {
    this.remaining = o.slice.requests ?? Number.POSITIVE_INFINITY;
    this.finished = new Promise((r) => {
      this.resolve = r;
    });
    this.stopping = new Promise((r) => {
      this.resolveStopping = r;
    });
  }

  start(): void {
    this.t0 = performance.now();
    this.stats.t0 = this.t0;
    if (this.stopped) {
      this.maybeFinished();
      return;
    }
    if (this.o.durationMs !== null) {
      this.deadline = this.t0 + this.o.durationMs;
      this.timer = setTimeout(() => this.stop(), this.o.durationMs);
    }
    if (this.remaining <= 0) {
      this.stop();
      return;
    }
    if (this.o.slice.rate !== null) this.schedule();
    else {
      // Slot i rides connection i % connections (engines map it): `perConnection` slots each.
      const n = this.o.slice.connections * this.o.perConnection;
      for (let i = 0; i < n; i++) this.slots.push(new Slot(this, i));
      for (const slot of this.slots) this.kick(slot);
    }
    this.maybeFinished();
  }

  /** No new requests; `finished` resolves when the ones in flight end. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.resolveStopping();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.backlog.length = 0;
    this.maybeFinished();
  }

  /** Requests still in flight are no longer counted (they are torn down with the engine). */
  abandon(): void {
    this.abandoned = true;
    this.stop();
    this.resolve();
  }

  get pending(): number {
    return this.inFlight;
  }

  /** One more request may go at `now` (performance.now()). */
  private take(now: number): boolean {
    if (this.stopped || this.remaining <= 0) return false;
    if (now >= this.deadline) {
      this.stop();
      return false;
    }
    this.remaining--;
    return true;
  }

  /**
   * Closed model: the slot's next request. One callback per slot, made once (no closure per
   * request); `now` is the clock read that ended the slot's previous request, if any (one
   * clock read per request).
   */
  kick(slot: Slot, now: number = performance.now()): void {
    if (!this.take(now)) {
      this.maybeFinished();
      return;
    }
    this.inFlight++;
    this.stats.c.sent++;
    slot.start = now;
    this.engine.send(slot.index, slot.done);
  }

  /** Closed model: a slot's request ended. */
  slotDone(slot: Slot, err: Error | null, status: number): void {
    this.inFlight--;
    if (this.abandoned) return;
    if (err) {
      this.stats.failed(err);
      // After a failure, go on from a fresh stack: undici is still unwinding its queue, and
      // refused or unbindable connects would otherwise spin synchronously.
      this.defer(() => this.kick(slot));
    } else {
      const now = performance.now();
      this.stats.response(status, (now - slot.start) * 1000);
      this.kick(slot, now);
    }
  }

  private send(slot: number, start: number, after: Done): void {
    this.inFlight++;
    this.stats.c.sent++;
    const done: Done = (err, status) => {
      this.inFlight--;
      if (this.abandoned) return;
      if (err) this.stats.failed(err);
      else this.stats.response(status, (performance.now() - start) * 1000);
      after(err, status);
    };
    this.engine.send(slot, done);
  }

  private schedule(): void {
    if (this.stopped) return;
    const interval = 1000 / this.o.slice.rate!;
    const now = performance.now();
    const due = Math.floor((now - this.t0) / interval) + 1;
    const cap = this.o.slice.connections * this.o.perConnection;
    while (this.issued < due) {
      if (!this.take(now)) break;
      const intended = this.t0 + this.issued * interval;
      this.issued++;
      if (this.inFlight < cap) this.sendOpen(intended);
      else this.backlog.push(intended);
    }
    if (this.stopped || this.remaining <= 0) {
      this.maybeFinished();
      return;
    }
    const next = this.t0 + this.issued * interval;
    this.timer = setTimeout(() => this.schedule(), Math.max(0, next - performance.now()));
  }

  private sendOpen(intended: number): void {
    this.send(-1, intended, (err) => {
      const next = this.backlog.shift();
      if (next === undefined) this.maybeFinished();
      else if (err) this.defer(() => this.sendOpen(next));
      else this.sendOpen(next);
    });
  }

  private defer(fn: () => void): void {
    this.deferred++;
    setImmediate(() => {
      this.deferred--;
      fn();
    });
  }

  private maybeFinished(): void {
    if (this.inFlight > 0 || this.deferred > 0 || this.backlog.length > 0) return;
    if (this.stopped || this.remaining <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.resolve();
    }
  }
}

/** A closed-model slot: one request in flight at a time, its callback bound once. */
class Slot {
  start = 0;
  readonly done: Done;
  constructor(
    driver: Driver,
    readonly index: number,
  ) {
    this.done = (err, status) => driver.slotDone(this, err, status);
  }
}
