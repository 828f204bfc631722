import { hostname } from 'node:os';
import { sampleTcp, type TcpSample } from '@kalab/core';

export interface HostPeak {
  ephemeralRange: [number, number] | null;
  timeWaitPeak: number;
  ephemeralInUsePeak: number;
}

/**
 * At most this share of wall time goes to reading the TCP table: after a read that took
 * `d` ms the next waits `d / SHARE - d` ms. The table grows with the run's own TIME_WAIT
 * (a churn run at 5,000 connections/s leaves ~300,000 sockets, ~0.3 s a read), and the read
 * runs on the main thread, which shares a core with the workers when a run is pinned.
 */
const SHARE = 0.05;

/**
 * Samples the loadgen host's own TCP table (its network namespace) during a run:
 * TIME_WAIT on its side and ephemeral ports in use against ip_local_port_range; keeps the peaks.
 * Reads are spaced so they cost at most 5% of the time (see SHARE): with a small table that is
 * every tick; the first and the last sample of a run are always taken (`force`).
 */
export class HostSampler {
  readonly peak: HostPeak = { ephemeralRange: null, timeWaitPeak: 0, ephemeralInUsePeak: 0 };
  last: TcpSample | null = null;
  private busy = false;
  private failed = false;
  /** performance.now() before which an unforced sample is skipped. */
  private notBefore = 0;

  async sample(force = false): Promise<TcpSample | null> {
    if (this.busy || this.failed) return null;
    const t0 = performance.now();
    if (!force && t0 < this.notBefore) return null;
    this.busy = true;
    try {
      const s = await sampleTcp({ host: hostname().slice(0, 128) || 'localhost', maxSockets: 0 });
      this.last = s;
      if (s.ephemeral) {
        this.peak.ephemeralRange = [s.ephemeral.range[0], s.ephemeral.range[1]];
        this.peak.timeWaitPeak = Math.max(this.peak.timeWaitPeak, s.ephemeral.timeWait);
        this.peak.ephemeralInUsePeak = Math.max(this.peak.ephemeralInUsePeak, s.ephemeral.inUse);
      }
      return s;
    } catch {
      // No /proc and no netstat: the report says null rather than failing the run.
      this.failed = true;
      return null;
    } finally {
      this.busy = false;
      const took = performance.now() - t0;
      this.notBefore = t0 + took / SHARE;
    }
  }
}
