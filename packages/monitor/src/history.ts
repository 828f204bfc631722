import { RingBuffer } from '@kalab/core';
import type { Snapshot } from '@kalab/protocol';

export interface HistoryPoint {
  at: number;
  rps: number;
  newConnPerSec: number;
  /** Per host, per state. */
  states: Record<string, Record<string, number>>;
}

/** One point per monitor tick, bounded, turned into the snapshot's column-wise history. */
export class History {
  private readonly points: RingBuffer<HistoryPoint>;

  constructor(size: number) {
    this.points = new RingBuffer(size);
  }

  push(p: HistoryPoint): void {
    this.points.push(p);
  }

  /** The newest `n` points as columns; a state a host did not report at some point counts 0 there. */
  view(n: number): Snapshot['history'] {
    const pts = this.points.toArray(n);
    const states: Snapshot['history']['states'] = {};
    pts.forEach((p, i) => {
      for (const [host, counts] of Object.entries(p.states)) {
        let byState = states[host];
        if (!byState) {
          byState = {};
          states[host] = byState;
        }
        for (const [state, c] of Object.entries(counts)) {
          let arr = byState[state];
          if (!arr) {
            arr = new Array(pts.length).fill(0);
            byState[state] = arr;
          }
          arr[i] = c;
        }
      }
    });
    return {
      at: pts.map((p) => p.at),
      rps: pts.map((p) => p.rps),
      newConnPerSec: pts.map((p) => p.newConnPerSec),
      states,
    };
  }
}
