import { RingBuffer, type TcpSample } from '@kalab/core';
import { type HostSnapshot, secondsToExhaustion } from '@kalab/protocol';

interface Received {
  sample: TcpSample;
  receivedAt: number;
}

/** Senders per host whose latest sample is kept (the monitor itself, a server, an agent...). */
const MAX_SENDERS_PER_HOST = 16;

/**
 * The TCP picture of one host, from the samples of everything that runs there.
 * Senders may sample different subsets (a server only its port, the monitor every socket),
 * so a state's count is the largest among fresh samples: never double counted.
 */
export class HostState {
  private readonly samples = new Map<string, Received>();
  /** (at, inUse, timeWait) once per tick, for growth rates. */
  private readonly trend = new RingBuffer<{ at: number; inUse: number; timeWait: number }>(6);

  constructor(
    readonly name: string,
    private readonly freshMs: number,
  ) {}

  onSample(sender: string, sample: TcpSample, now: number): void {
    if (!this.samples.has(sender) && this.samples.size >= MAX_SENDERS_PER_HOST) {
      let oldest: string | undefined;
      let oldestAt = Number.POSITIVE_INFINITY;
      for (const [k, r] of this.samples) {
        if (r.receivedAt < oldestAt) {
          oldestAt = r.receivedAt;
          oldest = k;
        }
      }
      if (oldest !== undefined) this.samples.delete(oldest);
    }
    this.samples.set(sender, { sample, receivedAt: now });
  }

  get lastAt(): number {
    let at = 0;
    for (const r of this.samples.values()) at = Math.max(at, r.receivedAt);
    return at;
  }

  private fresh(now: number): Received[] {
    const all = [...this.samples.values()];
    const fresh = all.filter((r) => now - r.receivedAt <= this.freshMs);
    if (fresh.length > 0) return fresh;
    // Nobody reports any more: keep showing the last thing we saw.
    const newest = all.reduce<Received | undefined>((a, r) => (a && a.receivedAt >= r.receivedAt ? a : r), undefined);
    return newest ? [newest] : [];
  }

  /** Called once per hub tick: remembers the ephemeral usage to compute its growth. */
  onTick(now: number): void {
    const s = this.snapshotCore(now);
    this.trend.push({ at: now, inUse: s.ephemeral?.inUse ?? 0, timeWait: s.states['TIME_WAIT'] ?? 0 });
  }

  /** Growth per second of ephemeral ports in use and of TIME_WAIT over the recent ticks. */
  growth(): { inUsePerSec: number; timeWaitPerSec: number } {
    const pts = this.trend.toArray();
    const first = pts[0];
    const last = pts[pts.length - 1];
    if (!first || !last || last.at <= first.at) return { inUsePerSec: 0, timeWaitPerSec: 0 };
    const dt = (last.at - first.at) / 1000;
    return { inUsePerSec: (last.inUse - first.inUse) / dt, timeWaitPerSec: (last.timeWait - first.timeWait) / dt };
  }

  private snapshotCore(now: number): Omit<HostSnapshot, 'exhaustionSeconds'> {
    const states: Record<string, number> = {};
    let ephemeral: HostSnapshot['ephemeral'];
    let at = 0;
    for (const { sample } of this.fresh(now)) {
      for (const [state, n] of Object.entries(sample.states)) states[state] = Math.max(states[state] ?? 0, n);
      if (sample.ephemeral && (!ephemeral || sample.ephemeral.inUse > ephemeral.inUse)) ephemeral = sample.ephemeral;
      at = Math.max(at, sample.at);
    }
    return ephemeral ? { states, ephemeral, at } : { states, at };
  }

  snapshot(now: number): HostSnapshot {
    const core = this.snapshotCore(now);
    let exhaustionSeconds: number | null = null;
    if (core.ephemeral)
      exhaustionSeconds = secondsToExhaustion(core.ephemeral.range, core.ephemeral.inUse, this.growth().inUsePerSec);
    return { ...core, exhaustionSeconds };
  }

  /** Socket rows of the fresh samples, for the connections table. */
  sockets(now: number): { local: string; remote: string; state: string }[] {
    const out: { local: string; remote: string; state: string }[] = [];
    for (const { sample } of this.fresh(now)) if (sample.sockets) out.push(...sample.sockets);
    return out;
  }
}
