import blessed from 'blessed';
import { DASHBOARD_DEFAULTS } from './defaults.js';
import { type DashboardAction, footerText, KEY_MAP } from './key-map.js';
import { computeLayout, MIN_COLS, MIN_ROWS, type Rect } from './layout.js';
import { createOverlays, type OverlayState, type ScenarioItem } from './overlays.js';
import { startRenderLoop } from './render-loop.js';
import type { DashboardStore } from './store.js';
import { agentsView } from './views/agents-view.js';
import { connectionsView } from './views/connections-view.js';
import { errorsView } from './views/errors-view.js';
import { findingsView } from './views/findings-view.js';
import { headerView } from './views/header-view.js';
import { latencyView } from './views/latency-view.js';
import { portsView } from './views/ports-view.js';
import { tcpStatesView } from './views/tcp-states-view.js';
import { throughputView } from './views/throughput-view.js';
import type { View } from './views/view.js';

export interface DashboardOptions {
  store: DashboardStore;
  /** A screen to draw on; tests pass one built on a fake output stream of a fixed size. */
  screen?: blessed.Widgets.Screen;
  /** The picker's entries, read each time it opens. */
  scenarios?: () => ScenarioItem[];
  onScenario?: (name: string) => void;
  /** `r`: start or stop a run. */
  onRunToggle?: () => void;
  /** `a`: run the current load on every idle agent of the monitor. */
  onFanOut?: () => void;
  onQuit?: () => void;
  /** Set for a dashboard that only views: `s` and `r` show this line instead of acting. */
  viewOnly?: string;
  /** Upper bound on redraws (default 4 a second). */
  maxRendersPerSecond?: number;
}

export interface Dashboard {
  readonly screen: blessed.Widgets.Screen;
  /** Redraws now from the store's model (tests call it; the tick calls it when something changed). */
  draw(): void;
  /** Performs a key action as if its key was pressed. */
  act(action: DashboardAction): void;
  /** Renders so far, for tests and the CPU bench. */
  readonly renders: number;
  readonly overlay: OverlayState;
  destroy(): void;
}

const BOXED: View[] = [
  throughputView,
  tcpStatesView,
  portsView,
  latencyView,
  errorsView,
  connectionsView,
  agentsView,
  findingsView,
];
const FOCUS_ORDER = BOXED.map((v) => v.id);

/** Builds the blessed screen of the dashboard over a store. */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { store } = options;
  const screen =
    options.screen ??
    blessed.screen({
      smartCSR: true,
      fullUnicode: true,
      forceUnicode: true,
      autoPadding: true,
      warnings: false,
      title: 'kalab dashboard',
    });
  // UTF-8 box drawing and dots rather than the terminal's line-drawing charset (ACS): the
  // same characters reach the user, tmux capture-pane and the tests.
  if (!options.screen && process.env.NCURSES_NO_UTF8_ACS === undefined)
    (screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true;

  const header = blessed.box({ parent: screen, tags: false, wrap: false });
  const footer = blessed.box({ parent: screen, tags: false, wrap: false, style: { fg: 'black', bg: 'cyan' } });
  const tooSmall = blessed.box({
    parent: screen,
    top: 0,
    left: 0,
    width: '100%',
    height: '100%',
    hidden: true,
    tags: false,
  });
  const boxes = new Map<View, blessed.Widgets.BoxElement>();
  for (const view of BOXED) {
    boxes.set(
      view,
      blessed.box({
        parent: screen,
        border: { type: 'line' },
        tags: false,
        wrap: false,
        style: { border: { fg: 'gray' }, label: { fg: 'white' } },
      }),
    );
  }
  const scroll = new Map<View, number>();
  let focusIndex = -1;
  let destroyed = false;

  const overlays = createOverlays(screen, (name) => options.onScenario?.(name));

  const place = (el: blessed.Widgets.BoxElement, r: Rect) => {
    el.top = r.top;
    el.left = r.left;
    el.width = r.width;
    el.height = r.height;
  };

  function relayout(): void {
    const layout = computeLayout(screen.width as number, screen.height as number);
    const visible = !layout.tooSmall;
    for (const el of [header, footer, ...boxes.values()]) visible ? el.show() : el.hide();
    if (layout.tooSmall) {
      tooSmall.setContent(
        `Terminal ${screen.width}×${screen.height}: the dashboard needs ${MIN_COLS}×${MIN_ROWS} or more.`,
      );
      tooSmall.show();
      return;
    }
    tooSmall.hide();
    place(header, layout.panels.header);
    place(footer, layout.panels.footer);
    for (const [view, el] of boxes) {
      const r = layout.panels[view.id as keyof typeof layout.panels];
      if (r) place(el, r);
      else el.hide();
    }
  }

  function draw(now: number): void {
    const model = store.model(now);
    const w = screen.width as number;
    header.setContent(headerView.lines(model, w, 2).join('\n'));
    footer.setContent(footerText().slice(0, w));
    for (const [view, el] of boxes) {
      const iw = Math.max(0, (el.width as number) - 2);
      const ih = Math.max(0, (el.height as number) - 2);
      const offset = scroll.get(view) ?? 0;
      el.setLabel(view.title(model, Math.max(0, iw - 2)));
      const lines = view.lines(model, iw, ih + offset);
      const sticky = Math.min(view.sticky ?? 0, ih);
      el.setContent([...lines.slice(0, sticky), ...lines.slice(sticky + offset, offset + ih)].join('\n'));
    }
    screen.render();
  }
  const loop = startRenderLoop(store, options.maxRendersPerSecond ?? DASHBOARD_DEFAULTS.maxRendersPerSecond, draw);

  function setFocus(index: number): void {
    const prev = BOXED[focusIndex];
    if (prev) boxes.get(prev)!.style.border.fg = 'gray';
    focusIndex = index;
    const next = BOXED[focusIndex];
    if (next) boxes.get(next)!.style.border.fg = 'cyan';
  }

  function act(action: DashboardAction): void {
    if (destroyed) return;
    switch (action) {
      case 'help':
        overlays.toggleHelp();
        return;
      case 'picker':
        if (overlays.state !== 'none') return;
        if (options.viewOnly) {
          store.patchStatus({ message: options.viewOnly });
          return;
        }
        overlays.openPicker(options.scenarios?.() ?? []);
        return;
      case 'run':
        if (overlays.state !== 'none') return;
        if (options.viewOnly) store.patchStatus({ message: options.viewOnly });
        else options.onRunToggle?.();
        return;
      case 'fan-out':
        if (overlays.state !== 'none') return;
        if (options.viewOnly) store.patchStatus({ message: options.viewOnly });
        else options.onFanOut?.();
        return;
      case 'pause':
        if (overlays.state !== 'none') return;
        store.patchStatus({ paused: !store.status.paused });
        return;
      case 'focus':
        if (overlays.state !== 'none') return;
        setFocus((focusIndex + 1) % FOCUS_ORDER.length);
        store.patchStatus({});
        return;
      case 'quit':
        if (overlays.state !== 'none') {
          overlays.close();
          return;
        }
        options.onQuit?.();
        return;
    }
  }

  for (const binding of KEY_MAP) screen.key(binding.keys, () => act(binding.action));
  screen.key(['escape'], () => {
    if (overlays.state !== 'none') overlays.close();
  });
  screen.key(['up', 'down', 'pageup', 'pagedown'], (_ch, key) => {
    const view = BOXED[focusIndex];
    if (overlays.state !== 'none' || !view) return;
    const step = key.name === 'up' ? -1 : key.name === 'down' ? 1 : key.name === 'pageup' ? -10 : 10;
    scroll.set(view, Math.max(0, (scroll.get(view) ?? 0) + step));
    store.patchStatus({});
  });
  screen.on('resize', () => {
    relayout();
    // blessed reallocates its buffers on resize; a full redraw leaves no stale cells.
    screen.realloc();
    loop.drawNow();
  });

  relayout();
  loop.drawNow();

  return {
    screen,
    draw: () => loop.drawNow(),
    act,
    get renders() {
      return loop.renders;
    },
    get overlay() {
      return overlays.state;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      loop.stop();
      screen.destroy();
    },
  };
}
