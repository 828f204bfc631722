import type { CaptureTarget } from './capture-file.js';
import type { TrackerTick } from './connection-tracker.js';
import type { ObserveReport } from './report.js';

/** What the parent hands the sandboxed observer (argv[2], JSON). */
export interface SandboxConfig {
  command: string[];
  intervalMs: number;
  durationMs: number | null;
  graceMs: number;
  portRange: [number, number] | null;
  twReuse: number | null;
  serve: number | null;
  /** `--capture`, checked by the parent (checkCaptureTarget). */
  capture: CaptureTarget | null;
  /** Send a tick line every second (live streaming). */
  ticks: boolean;
}

/** JSON lines from the sandboxed observer to the parent, on fd 3 (stdout and stderr are the program's). */
export type ChildLine =
  | { t: 'started'; pid: number }
  | ({ t: 'tick'; requests: number } & TrackerTick)
  | { t: 'done'; report: ObserveReport }
  | { t: 'error'; code: string; message: string };
