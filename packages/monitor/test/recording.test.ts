import { ParseError } from '@kalab/core';
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

  // Each of these crashed `kalab report` with a TypeError and a stack trace.
  const H = '{"kind":"run","schema":"kalab.recording/v1"}';
  const good = JSON.stringify(header);
  const summary = {
    kind: 'summary',
    at: header.at + 2000,
    run: { ...header.run, running: false, outcome: 'completed', endedAt: header.at + 2000 },
    report: null,
    merged,
    hosts: {},
    findings: [],
  };
  it.each([
    ['a header with nothing but its kind and schema', H, /^r\.jsonl:1: bad "run" line: at: .*expected number/],
    ['a bare header, then a tick', `${H}\n{"kind":"tick"}\n`, /^r\.jsonl:1: bad "run" line: at: /],
    [
      'a tick with no fields',
      `${good}\n{"kind":"tick"}\n`,
      /^r\.jsonl:2: bad "tick" line: at: .*expected number.*\(and 4 more\)$/,
    ],
    [
      'a tick dated "yesterday" at -5 ms',
      `${good}\n{"kind":"tick","at":"yesterday","elapsedMs":-5}\n`,
      /^r\.jsonl:2: bad "tick" line: at: .*expected number, received string/,
    ],
    ['a summary with no fields', `${good}\n{"kind":"summary"}\n`, /^r\.jsonl:2: bad "summary" line: at: /],
    [
      'a summary whose report.requests is a string',
      `${good}\n${JSON.stringify({ ...summary, report: { requests: 'many' } })}\n`,
      /^r\.jsonl:2: bad "summary" line: report\.\w+: /,
    ],
    [
      'a header whose run is null',
      `${JSON.stringify({ ...header, run: null })}\n`,
      /^r\.jsonl:1: bad "run" line: run: .*expected object, received null$/,
    ],
    ['a second header', `${good}\n${good}\n`, /^r\.jsonl:2: a second "run" header line$/],
    ['a line that is not an object', `${good}\n[1,2]\n`, /^r\.jsonl:2: not a recording line/],
    ['an unknown kind', `${good}\n{"kind":"tock"}\n`, /^r\.jsonl:2: unknown line kind "tock"/],
  ])('%s: a ParseError naming the line and what is wrong', (_what, text, message) => {
    let caught: unknown;
    try {
      parseRecording(text, 'r.jsonl');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ParseError);
    expect((caught as ParseError).code).toBe('KALAB_ERR_PARSE');
    expect((caught as Error).message).toMatch(message);
  });

  it('a summary whose report.requests is a string names report.requests', () => {
    const report = {
      schema: 'kalab.report/v1',
      target: 'http://127.0.0.1:1/',
      engine: 'undici',
      config: {},
      durationMs: 10,
      requests: 'many',
      connections: { opened: 1, reusedRequests: 0, maxOpen: 1, requestsPerConnection: 1 },
      errors: {},
      latencyMs: merged.latencyMs,
      connectMs: merged.connectMs,
      throughput: { rps: 1 },
      host: { ephemeralRange: null, timeWaitPeak: 0 },
      findings: [],
    };
    expect(() => parseRecording(`${good}\n${JSON.stringify({ ...summary, report })}\n`, 'r.jsonl')).toThrow(
      /^r\.jsonl:2: bad "summary" line: report\.requests: .*expected object, received string$/,
    );
    // The same summary with a good report parses, and formats.
    const ok = { ...report, requests: { sent: 1, completed: 1, ok: 1, non2xx: 0, failed: 0 } };
    const rec = parseRecording(`${good}\n${JSON.stringify({ ...summary, report: ok })}\n`);
    expect(rec.summary?.report?.requests.ok).toBe(1);
    expect(formatRecording(rec)).toContain('requests     1 sent, 1 completed (1 ok, 0 non-2xx), 0 failed');
  });

  it('refuses what is not a recording, naming the line', () => {
    expect(() => parseRecording('{"kind":"tick"}\n')).toThrow(/no "run" header/);
    expect(() => parseRecording('\n\n', 'e.jsonl')).toThrow(/^e\.jsonl: empty: no "run" header/);
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
