import { describe, expect, it } from 'vitest';
import { formatRecording, parseRecording } from '../src/index.js';

const header = {
  kind: 'run',
  schema: 'kalab.recording/v1',
  at: 1_700_000_000_000,
  run: { id: 'x', source: { name: 'a', host: 'h' }, startedAt: 1_700_000_000_000, running: true },
  monitor: { host: 'm', version: '0.1.0' },
};
const merged = {
  requests: 10,
  connectionsOpened: 10,
  rps: 10,
  newConnPerSec: 10,
  requestsPerConnection: 1,
  latencyMs: { mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
  connectMs: { mean: 0, p50: 0, p99: 0, max: 0 },
  errors: {},
};
const tickLine = (i: number) => ({
  kind: 'tick',
  at: header.at + i * 1000,
  elapsedMs: i * 1000,
  sources: [],
  merged,
  hosts: { h: { states: { TIME_WAIT: i }, exhaustionSeconds: null, at: 0 } },
});

describe('recorded runs', () => {
  it('reads a recording cut by a crash: the torn last line is dropped, the run shows as incomplete', () => {
    const text =
      [header, tickLine(1), tickLine(2)].map((l) => JSON.stringify(l)).join('\n') + '\n{"kind":"tick","at":17';
    const rec = parseRecording(text);
    expect(rec.ticks).toHaveLength(2);
    expect(rec.summary).toBeNull();
    const out = formatRecording(rec);
    expect(out).toContain('outcome  incomplete');
    expect(out).toContain("requests     10 (from the monitor's ticks; no report arrived)");
  });

  it('refuses what is not a recording, naming the line', () => {
    expect(() => parseRecording('{"kind":"tick"}\n')).toThrow(/no "run" header/);
    expect(() => parseRecording(`${JSON.stringify(header)}\nnot json\n{}\n`, 'f.jsonl')).toThrow(
      /f.jsonl:2: not a JSON line/,
    );
    expect(() => parseRecording(JSON.stringify({ ...header, schema: 'other' }))).toThrow(/is not kalab.recording\/v1/);
  });

  it('thins a long run to about maxRows rows, keeping the last', () => {
    const text = [header, ...Array.from({ length: 300 }, (_, i) => tickLine(i + 1))]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const out = formatRecording(parseRecording(text), { maxRows: 30 });
    const rows = out.split('\n').filter((l) => /^\s+\d+(\.\d)?\s+10\s/.test(l));
    expect(rows.length).toBeLessThanOrEqual(31);
    expect(rows.at(-1)).toMatch(/^\s+300\s/);
  });
});
