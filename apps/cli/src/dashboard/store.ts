import { EventEmitter } from 'node:events';
import type { Snapshot } from '@kalab/protocol';
import type { DashboardModel, DashboardStatus } from './model.js';

/**
 * The dashboard's single source of state. Providers write to it (snapshots from the
 * monitor, the state of local runs); the screen reads `model()` once per render tick.
 * Writes only mark it changed: they never draw, so a burst of snapshots costs one render.
 */
export class DashboardStore extends EventEmitter {
  private latest: Snapshot | null = null;
  private shown: Snapshot | null = null;
  private current: DashboardStatus;
  /** Bumped on every write; the renderer compares it with the version it last drew. */
  version = 0;

  constructor(status: DashboardStatus) {
    super();
    this.current = status;
  }

  get status(): Readonly<DashboardStatus> {
    return this.current;
  }

  get snapshot(): Snapshot | null {
    return this.latest;
  }

  setSnapshot(snapshot: Snapshot): void {
    this.latest = snapshot;
    if (this.current.paused) return;
    this.shown = snapshot;
    this.changed();
  }

  patchStatus(patch: Partial<DashboardStatus>): void {
    const wasPaused = this.current.paused;
    this.current = { ...this.current, ...patch };
    // Unpausing jumps to the newest snapshot, not the one that was frozen.
    if (wasPaused && !this.current.paused) this.shown = this.latest;
    this.changed();
  }

  /** What views draw: the frozen snapshot while paused, otherwise the latest. */
  model(now = Date.now()): DashboardModel {
    return { snapshot: this.shown, status: this.current, now };
  }

  private changed(): void {
    this.version++;
    this.emit('change');
  }
}
