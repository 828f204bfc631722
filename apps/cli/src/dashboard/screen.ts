import blessed from 'blessed';
import { DASHBOARD_DEFAULTS } from './defaults.js';
import { type DashboardAction, footerText, helpLines, KEY_MAP } from './key-map.js';
import { computeLayout, MIN_COLS, MIN_ROWS, type Rect } from './layout.js';
import type { DashboardStore } from './store.js';
import { connectionsView } from './views/connections-view.js';
import { errorsView } from './views/errors-view.js';
import { findingsView } from './views/findings-view.js';
import { headerView } from './views/header-view.js';
import { latencyView } from './views/latency-view.js';
import { portsView } from './views/ports-view.js';
import { tcpStatesView } from './views/tcp-states-view.js';
import { throughputView } from './views/throughput-view.js';
import type { View } from './views/view.js';

export interface ScenarioItem {
  name: string;
  description?: string;
  /** Shown under the list while the item is highlighted (what the run should show). */
  detail?: string;
}

export interface DashboardOptions {
  store: DashboardStore;
  /** A screen to draw on; tests pass one built on a fake output stream of a fixed size. */
  screen?: blessed.Widgets.Screen;
  /** The picker's entries, read each time it opens. */
  scenarios?: () => ScenarioItem[];
  onScenario?: (name: string) => void;
  /** `r`: start or stop a run. */
  onRunToggle?: () => void;
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
  readonly overlay: 'none' | 'help' | 'picker';
  destroy(): void;
}

const BOXED: View[] = [
  throughputView,
  tcpStatesView,
  portsView,
  latencyView,
  errorsView,
  connectionsView,
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
  const minInterval = 1000 / (options.maxRendersPerSecond ?? DASHBOARD_DEFAULTS.maxRendersPerSecond);

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

  const help = blessed.box({
    parent: screen,
    hidden: true,
    top: 'center',
    left: 'center',
    width: Math.max(...helpLines().map((l) => l.length)) + 4,
    height: helpLines().length + 2,
    border: { type: 'line' },
    label: ' Help ',
    padding: { left: 1, right: 1 },
    tags: false,
    content: helpLines().join('\n'),
    style: { border: { fg: 'cyan' } },
  });
  // The picker: the list, and under it what the highlighted scenario should show.
  const pickerBox = blessed.box({
    parent: screen,
    hidden: true,
    top: 'center',
    left: 'center',
    width: '80%',
    height: '60%',
    border: { type: 'line' },
    label: ' Scenarios · Enter runs · Esc closes ',
    tags: false,
    style: { border: { fg: 'cyan' } },
  });
  const picker = blessed.list({
    parent: pickerBox,
    top: 0,
    left: 0,
    right: 0,
    bottom: 3,
    keys: true,
    vi: true,
    tags: false,
    style: { selected: { bg: 'blue', fg: 'white' }, item: { fg: 'white' } },
  });
  const pickerDetail = blessed.box({
    parent: pickerBox,
    bottom: 0,
    left: 0,
    right: 0,
    height: 3,
    tags: false,
    style: { fg: 'cyan' },
  });
  let pickerItems: ScenarioItem[] = [];
  let overlay: Dashboard['overlay'] = 'none';

  let renders = 0;
  let lastRender = 0;
  let drawnVersion = -1;
  let drawnSecond = -1;
  let timer: NodeJS.Timeout | null = null;
  let destroyed = false;

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
    for (const [view, el] of boxes) place(el, layout.panels[view.id]);
  }

  function draw(): void {
    if (destroyed) return;
    const now = Date.now();
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
    renders++;
    lastRender = now;
    drawnVersion = store.version;
    drawnSecond = Math.floor(now / 1000);
  }

  // One render per tick, at most maxRendersPerSecond: writes to the store only mark it
  // changed; the tick draws if the store moved (or the header's clock did).
  function tick(): void {
    timer = null;
    if (destroyed) return;
    const now = Date.now();
    const stale = store.version !== drawnVersion || (Math.floor(now / 1000) !== drawnSecond && !store.status.paused);
    if (stale) {
      const wait = lastRender + minInterval - now;
      if (wait > 0) {
        timer = setTimeout(tick, wait);
        return;
      }
      draw();
    }
    timer = setTimeout(tick, Math.max(minInterval, 1000 - (now % 1000)));
  }
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, Math.max(0, lastRender + minInterval - Date.now()));
  };
  store.on('change', schedule);

  function setFocus(index: number): void {
    const prev = BOXED[focusIndex];
    if (prev) boxes.get(prev)!.style.border.fg = 'gray';
    focusIndex = index;
    const next = BOXED[focusIndex];
    if (next) boxes.get(next)!.style.border.fg = 'cyan';
  }

  function closeOverlay(): void {
    help.hide();
    pickerBox.hide();
    overlay = 'none';
    screen.render();
  }

  function act(action: DashboardAction): void {
    if (destroyed) return;
    switch (action) {
      case 'help':
        if (overlay === 'help') {
          closeOverlay();
          return;
        }
        pickerBox.hide();
        help.show();
        help.setFront();
        overlay = 'help';
        screen.render();
        return;
      case 'picker': {
        if (overlay !== 'none') return;
        if (options.viewOnly) {
          store.patchStatus({ message: options.viewOnly });
          return;
        }
        const items = options.scenarios?.() ?? [];
        pickerItems = items;
        const nameW = Math.max(0, ...items.map((s) => s.name.length));
        picker.setItems(items.map((s) => `${s.name.padEnd(nameW)}  ${s.description ?? ''}`) as unknown as string[]);
        if (items.length === 0) picker.setItems(['(no scenarios available)'] as unknown as string[]);
        picker.select(0);
        pickerDetail.setContent(items[0]?.detail ?? '');
        pickerBox.show();
        pickerBox.setFront();
        picker.focus();
        overlay = 'picker';
        screen.render();
        return;
      }
      case 'run':
        if (overlay !== 'none') return;
        if (options.viewOnly) store.patchStatus({ message: options.viewOnly });
        else options.onRunToggle?.();
        return;
      case 'pause':
        if (overlay !== 'none') return;
        store.patchStatus({ paused: !store.status.paused });
        return;
      case 'focus':
        if (overlay !== 'none') return;
        setFocus((focusIndex + 1) % FOCUS_ORDER.length);
        store.patchStatus({});
        return;
      case 'quit':
        if (overlay !== 'none') {
          closeOverlay();
          return;
        }
        options.onQuit?.();
        return;
    }
  }

  for (const binding of KEY_MAP) screen.key(binding.keys, () => act(binding.action));
  screen.key(['escape'], () => {
    if (overlay !== 'none') closeOverlay();
  });
  screen.key(['up', 'down', 'pageup', 'pagedown'], (_ch, key) => {
    const view = BOXED[focusIndex];
    if (overlay !== 'none' || !view) return;
    const step = key.name === 'up' ? -1 : key.name === 'down' ? 1 : key.name === 'pageup' ? -10 : 10;
    scroll.set(view, Math.max(0, (scroll.get(view) ?? 0) + step));
    store.patchStatus({});
  });
  picker.on('select item', (_item, index) => {
    pickerDetail.setContent(pickerItems[index]?.detail ?? '');
  });
  picker.on('select', (_item, index) => {
    const name = pickerItems[index]?.name;
    closeOverlay();
    if (name) options.onScenario?.(name);
  });

  screen.on('resize', () => {
    relayout();
    // blessed reallocates its buffers on resize; a full redraw leaves no stale cells.
    screen.realloc();
    draw();
  });

  relayout();
  draw();
  timer = setTimeout(tick, minInterval);

  return {
    screen,
    draw,
    act,
    get renders() {
      return renders;
    },
    get overlay() {
      return overlay;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      if (timer) clearTimeout(timer);
      store.off('change', schedule);
      screen.destroy();
    },
  };
}
