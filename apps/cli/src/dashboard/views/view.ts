import type { DashboardModel } from '../model.js';

/**
 * A panel of the dashboard. Views draw only from the model: `lines` returns at most
 * `height` lines, each at most `width` columns, and never reads a clock or a socket.
 */
export interface View {
  readonly id: PanelId;
  /** The panel's border label, cut to `width`. */
  title(model: DashboardModel, width: number): string;
  lines(model: DashboardModel, width: number, height: number): string[];
  /** Leading lines that stay put when the panel scrolls (a table's column names). */
  readonly sticky?: number;
}

export type PanelId =
  | 'header'
  | 'throughput'
  | 'states'
  | 'ports'
  | 'latency'
  | 'errors'
  | 'connections'
  | 'agents'
  | 'findings'
  | 'footer';
