import type { Snapshot } from '@kalab/protocol';

/**
 * Everything a view may draw from: the latest snapshot the monitor sent, plus what the
 * dashboard itself knows (where its data comes from, what it launched). Views are pure
 * functions of this object; providers are the only writers.
 */
export interface DashboardModel {
  snapshot: Snapshot | null;
  status: DashboardStatus;
  /** Wall clock of this render (ms since epoch), so elapsed times need no Date.now() in views. */
  now: number;
}

type LinkState = 'connecting' | 'connected' | 'disconnected';

export interface DashboardStatus {
  /** `embedded`: `kalab start` runs monitor and server itself; `remote`: `kalab dashboard URL`. */
  mode: 'embedded' | 'remote';
  monitorUrl: string;
  link: LinkState;
  /** The embedded server's URL, when there is one. */
  target: string | null;
  paused: boolean;
  run: LocalRun | null;
  /** One line for the user (errors, hints); cleared by the next action. */
  message: string | null;
}

/** A scenario or load run started from this dashboard. */
export interface LocalRun {
  kind: 'scenario' | 'load' | 'fan-out';
  name: string;
  state: 'running' | 'done' | 'failed' | 'stopped';
  startedAt: number;
  endedAt?: number;
  /** Live totals from the run's own ticks. */
  requests?: number;
  connectionsOpened?: number;
  /** Plain-words outcome once the run ended. */
  summary?: string;
  /** Why the result is what it is, and any check that failed, for the findings panel. */
  explanation?: string[];
}

export function initialStatus(
  mode: DashboardStatus['mode'],
  monitorUrl: string,
  target: string | null = null,
): DashboardStatus {
  return { mode, monitorUrl, link: 'connecting', target, paused: false, run: null, message: null };
}
