import { describe, expect, it } from 'vitest';
import { computeLayout, MIN_COLS, MIN_ROWS, type Rect } from '../src/dashboard/layout.js';

describe('dashboard layout', () => {
  it("tiles every size from 60x21 to 250x80 with no gap, no overlap and room for each panel's numbers", () => {
    for (let cols = MIN_COLS; cols <= 250; cols += 7) {
      for (let rows = MIN_ROWS; rows <= 80; rows += 3) {
        const layout = computeLayout(cols, rows);
        if (layout.tooSmall) throw new Error(`${cols}x${rows} too small`);
        const cells = new Uint8Array(cols * rows);
        for (const [id, r] of Object.entries(layout.panels) as [string, Rect][]) {
          expect(
            r.left >= 0 && r.top >= 0 && r.left + r.width <= cols && r.top + r.height <= rows,
            `${id} inside ${cols}x${rows}`,
          ).toBe(true);
          if (id !== 'header' && id !== 'footer') {
            // A border plus at least 4 lines and 16 columns of content.
            expect(r.height, `${id} height at ${cols}x${rows}`).toBeGreaterThanOrEqual(6);
            expect(r.width, `${id} width at ${cols}x${rows}`).toBeGreaterThanOrEqual(18);
          }
          for (let y = r.top; y < r.top + r.height; y++)
            for (let x = r.left; x < r.left + r.width; x++) cells[y * cols + x]!++;
        }
        expect(
          cells.every((c) => c === 1),
          `${cols}x${rows} covered exactly once`,
        ).toBe(true);
      }
    }
  });

  it('refuses sizes below 60x21', () => {
    expect(computeLayout(59, 24).tooSmall).toBe(true);
    expect(computeLayout(80, 20).tooSmall).toBe(true);
  });
});
