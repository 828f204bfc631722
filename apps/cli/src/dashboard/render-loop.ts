import type { DashboardStore } from './store.js';

export interface RenderLoop {
  /** Draws now (and counts it). */
  drawNow(): void;
  readonly renders: number;
  stop(): void;
}

/**
 * One render per tick, at most `maxPerSecond`: writes to the store only mark it changed; the
 * tick draws if the store moved, or once a second for the header's clock (not while paused).
 */
export function startRenderLoop(store: DashboardStore, maxPerSecond: number, draw: (now: number) => void): RenderLoop {
  const minInterval = 1000 / maxPerSecond;
  let renders = 0;
  let lastRender = 0;
  let drawnVersion = -1;
  let drawnSecond = -1;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  function drawNow(): void {
    if (stopped) return;
    const now = Date.now();
    draw(now);
    renders++;
    lastRender = now;
    drawnVersion = store.version;
    drawnSecond = Math.floor(now / 1000);
  }

  function tick(): void {
    timer = null;
    if (stopped) return;
    const now = Date.now();
    const stale = store.version !== drawnVersion || (Math.floor(now / 1000) !== drawnSecond && !store.status.paused);
    if (stale) {
      const wait = lastRender + minInterval - now;
      if (wait > 0) {
        timer = setTimeout(tick, wait);
        return;
      }
      drawNow();
    }
    timer = setTimeout(tick, Math.max(minInterval, 1000 - (now % 1000)));
  }
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, Math.max(0, lastRender + minInterval - Date.now()));
  };
  store.on('change', schedule);
  timer = setTimeout(tick, minInterval);

  return {
    drawNow,
    get renders() {
      return renders;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      store.off('change', schedule);
    },
  };
}
