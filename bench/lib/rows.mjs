// What every bench hands to bench/perf.mjs: its ratio rows, as JSON, when perf.mjs asks for them.
//
// A bench prints its own table for a person; it also calls emitRows() with the same numbers.
// When KALAB_BENCH_ROWS names a file (perf.mjs sets it), the rows are written there; otherwise
// emitRows does nothing, so each bench stays a standalone script.
import { readFileSync, writeFileSync } from 'node:fs';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median of per-round ratios a[i] / b[i]: drift on a shared machine hits both sides of a round alike. */
export function medianRatio(a, b) {
  return median(a.map((v, i) => v / b[i]));
}

/** 1.0 beats 0.9 when more is better ('>='); 90 beats 150 when less is better ('<'). */
export function met(value, target, cmp = '>=') {
  return cmp === '<' ? value < target : value >= target;
}

/**
 * @param {string} bench the script's name, e.g. 'loadgen-bench'
 * @param {string} context one line: machine, pinning, rounds, load average
 * @param {Array<{ metric: string, pair: string, kalab: number, peer: number | null, unit: string,
 *                 value: number, target: number, cmp?: '>=' | '<' }>} rows
 *   `value` is the ratio (or, for absolute bounds such as MiB or ms, the measured number; null when not measured)
 *   compared with `target`; `ok` (optional) overrides that comparison, e.g. a report that is not exact misses.
 */
export function emitRows(bench, context, rows) {
  const file = process.env.KALAB_BENCH_ROWS;
  if (!file) return;
  writeFileSync(file, JSON.stringify({ bench, context, rows: rows.map((r) => ({ cmp: '>=', ...r })) }));
}

export const loadAverage = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
};
