import { describe, expect, it } from 'vitest';
import {
  bar,
  blockChart,
  fit,
  fitStart,
  fmtCount,
  fmtDuration,
  fmtMs,
  fmtRate,
  pick,
  sparkline,
  spread,
  wrap,
} from '../src/dashboard/format.js';

describe('dashboard number formats', () => {
  it('counts: separators below 100k, k/M/G above', () => {
    expect(fmtCount(0)).toBe('0');
    expect(fmtCount(27_000)).toBe('27,000');
    expect(fmtCount(108_000)).toBe('108k');
    expect(fmtCount(1_234_567)).toBe('1.2M');
    expect(fmtCount(Number.NaN)).toBe('-');
  });
  it('rates keep one decimal below 100', () => {
    expect(fmtRate(11.11)).toBe('11.1');
    expect(fmtRate(12)).toBe('12');
    expect(fmtRate(9972.4)).toBe('9,972');
  });
  it('milliseconds keep three significant figures', () => {
    expect(fmtMs(0.145)).toBe('0.145');
    expect(fmtMs(3.871)).toBe('3.87');
    expect(fmtMs(12.52)).toBe('12.5');
    expect(fmtMs(1234)).toBe('1,234');
  });
  it('durations', () => {
    expect(fmtDuration(31_000)).toBe('31s');
    expect(fmtDuration(65_000)).toBe('1m05s');
    expect(fmtDuration(3_700_000)).toBe('1h01m');
  });
});

describe('dashboard text primitives', () => {
  it('fit pads or cuts to the exact width', () => {
    expect(fit('abc', 5)).toBe('abc  ');
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fitStart('127.0.0.1:40000', 8)).toBe('…1:40000');
  });
  it('spread puts the value at the right edge', () => {
    expect(spread('req/s 10', 'peak 12', 20)).toBe('req/s 10     peak 12');
  });
  it('pick takes the longest candidate that fits', () => {
    expect(pick([' TCP states · TIME_WAIT · CLOSE_WAIT ', ' TCP states · TIME_WAIT ', ' TIME_WAIT '], 26)).toBe(
      ' TCP states · TIME_WAIT ',
    );
    expect(pick(['abcdef'], 3)).toBe('ab…');
  });
  it('wrap breaks on words and splits words longer than the width', () => {
    expect(wrap('TIME_WAIT grows 900/s: the range is full', 16)).toEqual([
      'TIME_WAIT grows',
      '900/s: the range',
      'is full',
    ]);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('dashboard charts', () => {
  it('sparkline scales to the largest value and right-aligns short histories', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe(' ▂▃▅█');
    expect(sparkline([8], 3)).toBe('  █');
    expect(sparkline([1, 2, 3, 4, 5, 6], 3)).toHaveLength(3);
  });
  it('blockChart stacks eighth blocks over several rows', () => {
    expect(blockChart([8, 4, 0], 3, 2)).toEqual(['█  ', '██ ']);
    expect(blockChart([1, 16], 2, 2)).toEqual([' █', '▁█']);
  });
  it('bar fills in eighths and never exceeds its width', () => {
    expect(bar(0.5, 4)).toBe('██░░');
    expect(bar(1.7, 4)).toBe('████');
    expect(bar(0.0625, 2)).toBe('▏░');
    expect(bar(Number.NaN, 3)).toBe('░░░');
  });
});
