import { hostname } from 'node:os';
import { sampleTcp, type TcpSample } from '@kalab/core';

export interface HostPeak {
  ephemeralRange: [number, number] | null;
  timeWaitPeak: number;
  ephemeralInUsePeak: number;
}

/**
 * Samples the loadgen host's own TCP table (its network namespace) during a run:
 * TIME_WAIT on its side and ephemeral ports in use against ip_local_port_range; keeps the peaks.
 */
export class HostSampler {
  readonly peak: HostPeak = { ephemeralRange: null, timeWaitPeak: 0, ephemeralInUsePeak: 0 };
  last: TcpSample | null = null;
  private busy = false;
  private failed = false;

  async sample(): Promise<TcpSample | null> {
    if (this.busy || this.failed) return null;
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
    }
  }
}
