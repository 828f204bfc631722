/**
 * Text primitives for the dashboard's views: numbers, sparklines, bars, columns.
 * blessed-contrib is not a dependency; unicode blocks draw the charts for a few
 * string operations per render.
 */

const SPARK = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** 1234 → "1,234"; 12345678 → "12.3M". Keeps numbers short enough for narrow panels. */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e5) return `${(n / 1e3).toFixed(0)}k`;
  return Math.round(n).toLocaleString('en-US');
}

/** A rate per second: one decimal below 100, a count above. */
export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Math.abs(n) < 100) return n.toFixed(n === Math.round(n) ? 0 : 1);
  return fmtCount(n);
}

/** Milliseconds with three significant figures: 0.123, 1.23, 12.3, 123, 1,234. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms === 0) return '0';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return fmtCount(ms);
}

/** 65_000 → "1m05s"; 3_700_000 → "1h01m". */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Cuts to `width` columns (with an ellipsis) or pads with spaces to exactly `width`. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return text.padEnd(width);
}

/** Like fit, but keeps the end of the text (addresses and ports are most useful at the end). */
export function fitStart(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `…${text.slice(text.length - width + 1)}`;
  return text.padEnd(width);
}

/** A label on the left and a value on the right, `width` columns in all. */
export function spread(left: string, right: string, width: number): string {
  if (left.length + right.length + 1 > width) return fit(`${left} ${right}`, width);
  return left + ' '.repeat(width - left.length - right.length) + right;
}

/** The newest `width` values as a one-line sparkline, scaled to the largest of them. */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  if (width <= 0) return '';
  const tail = values.slice(-width);
  const top = max ?? Math.max(0, ...tail);
  let line = '';
  for (const v of tail) {
    if (!(v > 0) || top <= 0) line += ' ';
    else line += SPARK[Math.min(SPARK.length - 1, Math.floor((v / top) * (SPARK.length - 1) + 0.5))];
  }
  return line.padStart(width);
}

/**
 * The newest `width` values as a bar chart `rows` lines tall, top line first: each column
 * is a value, each cell an eighth-block step, so 4 rows resolve 32 levels.
 */
export function blockChart(values: readonly number[], width: number, rows: number, max?: number): string[] {
  if (rows <= 0 || width <= 0) return [];
  const tail = values.slice(-width);
  const top = max ?? Math.max(0, ...tail);
  const lines: string[] = [];
  for (let r = rows - 1; r >= 0; r--) {
    let line = '';
    for (const v of tail) {
      const eighths = top > 0 && v > 0 ? Math.max(1, Math.round((v / top) * rows * 8)) : 0;
      const cell = eighths - r * 8;
      line += cell >= 8 ? '█' : cell <= 0 ? ' ' : SPARK[cell - 1];
    }
    lines.push(line.padStart(width));
  }
  return lines;
}

/** A horizontal gauge `width` columns wide, filled to `fraction` (0..1) in eighth blocks. */
export function bar(fraction: number, width: number): string {
  if (width <= 0) return '';
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = EIGHTHS[eighths % 8] ?? '';
  return ('█'.repeat(full) + part).padEnd(width, '░').slice(0, width);
}

/** Word-wraps plain text to `width` columns. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0) return [];
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = '';
    }
    let w = word;
    while (w.length > width) {
      if (line) {
        out.push(line);
        line = '';
      }
      out.push(w.slice(0, width));
      w = w.slice(width);
    }
    line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

/** The first (longest) candidate that fits in `width` columns, else the last one cut. */
export function pick(candidates: readonly string[], width: number): string {
  for (const c of candidates) if (c.length <= width) return c;
  return fit(candidates[candidates.length - 1] ?? '', width);
}
