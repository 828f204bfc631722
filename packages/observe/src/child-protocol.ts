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
  /** With serve: the module (URL) whose createLabServer starts the server (see LabServerModule). */
  labServer: string | null;
  capture: string | null;
  /** Send a tick line every second (live streaming). */
  ticks: boolean;
}

/**
 * What the observer needs of the lab server for `--serve`: `@kalab/server`'s createLabServer
 * fits it. The caller names the module (observe never imports the server package itself).
 */
export interface LabServerModule {
  createLabServer(o: { host: string; port: number; ledgerHistory: number }): {
    listen(): Promise<unknown>;
    close(o: { graceMs: number }): Promise<unknown>;
    address(): { port: number };
    ledger: {
      readonly requests: number;
      recentlyClosed(): readonly ServedRecord[];
      openConnections(): readonly ServedRecord[];
    };
  };
}
interface ServedRecord {
  remote: string;
  local: string;
  requests: number;
  closedBy: string | null;
}

/** JSON lines from the sandboxed observer to the parent, on fd 3 (stdout and stderr are the program's). */
export type ChildLine =
  | { t: 'started'; pid: number }
  | ({ t: 'tick'; requests: number } & TrackerTick)
  | { t: 'done'; report: ObserveReport }
  | { t: 'error'; code: string; message: string };
