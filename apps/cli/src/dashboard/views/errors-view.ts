import { fit, fmtCount, pick, spread } from '../format.js';
import type { View } from './view.js';

/** Errors by code (errno names and the lab's own), largest first. */
export const errorsView: View = {
  id: 'errors',
  title: (_m, width) => pick([' Errors by code ', ' Errors '], width),
  lines(model, width, height) {
    const m = model.snapshot?.merged;
    const entries = Object.entries(m?.errors ?? {})
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (entries.length === 0) return [fit('no errors', width)].slice(0, height);
    const total = entries.reduce((s, [, n]) => s + n, 0);
    const requests = m?.requests ?? 0;
    const share = requests > 0 ? ` (${((total / (requests + total)) * 100).toFixed(1)}%)` : '';
    const lines = [spread('total', `${fmtCount(total)}${share}`, width)];
    const room = height - 1;
    const shown = entries.length > room ? entries.slice(0, Math.max(0, room - 1)) : entries;
    for (const [code, n] of shown) lines.push(spread(code, fmtCount(n), width));
    if (shown.length < entries.length && lines.length < height)
      lines.push(fit(`+${entries.length - shown.length} more codes`, width));
    return lines.slice(0, height);
  },
};
