import { DASHBOARD_DEFAULTS } from './defaults.js';
import type { PanelId } from './views/view.js';

export interface Rect {
  top: number;
  left: number;
  width: number;
  height: number;
}

/** Every panel but `agents`, which only wide terminals have (narrower ones keep the other panels' widths). */
type Panels = Record<Exclude<PanelId, 'agents'>, Rect> & { agents?: Rect };
export type Layout = { tooSmall: false; panels: Panels } | { tooSmall: true; panels: null };

/** From this width on, the bottom band has room for the agents panel (one row per agent). */
const AGENTS_MIN_COLS = 120;

/** Below this the panels cannot show their numbers; the dashboard says so instead. */
export const MIN_COLS = DASHBOARD_DEFAULTS.minCols;
export const MIN_ROWS = DASHBOARD_DEFAULTS.minRows;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Tiles the screen: a two-line header, three bands of bordered panels, a footer line.
 * Pure, so tests check every size for overlaps and cuts without a terminal.
 *   header
 *   throughput | TCP states
 *   ports | latency | errors
 *   connections | agents | findings      (agents from AGENTS_MIN_COLS columns on)
 *   footer
 */
export function computeLayout(cols: number, rows: number): Layout {
  if (cols < MIN_COLS || rows < MIN_ROWS) return { tooSmall: true, panels: null };
  const header: Rect = { top: 0, left: 0, width: cols, height: 2 };
  const footer: Rect = { top: rows - 1, left: 0, width: cols, height: 1 };
  const body = rows - header.height - footer.height;
  const bandB = clamp(Math.round(body * 0.22), 6, 10);
  const bandA = clamp(Math.round(body * 0.36), 7, body - bandB - 6);
  const bandC = body - bandA - bandB;
  const topA = header.height;
  const topB = topA + bandA;
  const topC = topB + bandB;
  const halfA = Math.floor(cols / 2);
  const third = Math.floor(cols / 3);
  const agentsW = cols >= AGENTS_MIN_COLS ? Math.round(cols * 0.22) : 0;
  const findingsW = cols >= AGENTS_MIN_COLS ? Math.round(cols * 0.28) : cols - Math.round(cols * 0.6);
  const connW = cols - agentsW - findingsW;
  return {
    tooSmall: false,
    panels: {
      header,
      throughput: { top: topA, left: 0, width: halfA, height: bandA },
      states: { top: topA, left: halfA, width: cols - halfA, height: bandA },
      ports: { top: topB, left: 0, width: third, height: bandB },
      latency: { top: topB, left: third, width: third, height: bandB },
      errors: { top: topB, left: 2 * third, width: cols - 2 * third, height: bandB },
      connections: { top: topC, left: 0, width: connW, height: bandC },
      ...(agentsW > 0 ? { agents: { top: topC, left: connW, width: agentsW, height: bandC } } : {}),
      findings: { top: topC, left: connW + agentsW, width: findingsW, height: bandC },
      footer,
    },
  };
}
