import { fit, fmtMs, fmtRate, pick } from '../format.js';
import type { View } from './view.js';

/** Latency percentiles of the merged histogram and the time to connect, in milliseconds. */
export const latencyView: View = {
  id: 'latency',
  title: (_m, width) => pick([' Latency (ms) · percentiles · connect time ', ' Latency (ms) '], width),
  lines(model, width, height) {
    const m = model.snapshot?.merged;
    const l = m?.latencyMs;
    const c = m?.connectMs;
    const conn = width >= 34 ? 'connect' : 'conn';
    const pair = (a: string, av: number | undefined, b: string, bv: number | undefined) => {
      const left = `${a} ${fmtMs(av ?? 0)}`;
      return fit(`${left.padEnd(Math.max(left.length + 1, Math.floor(width / 2)))}${b} ${fmtMs(bv ?? 0)}`, width);
    };
    const lines = [
      pair('p50', l?.p50, 'p90', l?.p90),
      pair('p99', l?.p99, 'p999', l?.p999),
      pair('max', l?.max, 'mean', l?.mean),
      pair(`${conn} p50`, c?.p50, 'p99', c?.p99),
      pair(`${conn} max`, c?.max, 'mean', c?.mean),
      fit(`requests per connection ${fmtRate(m?.requestsPerConnection ?? 0)}`, width),
    ];
    return lines.slice(0, height);
  },
};
