import { LatencyHistogram } from '@kalab/core';
import { SnapshotSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, escapeLabelValue, type Monitor } from '../src/index.js';
import { TestPeer, tcpSample, tick, until, V } from './test-peer.js';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

/**
 * A strict reader of the Prometheus text exposition format (0.0.4), line by line: HELP and
 * TYPE comments, samples with escaped label values, one TYPE per family before its samples,
 * no duplicate series. Returns the samples; throws naming the line on the first violation.
 */
export function parseExposition(
  text: string,
): { name: string; family: string; labels: Record<string, string>; value: number }[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seenSamples = new Set<string>();
  const samplesOf = new Set<string>();
  const out: { name: string; family: string; labels: Record<string, string>; value: number }[] = [];
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} "${line}"`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`${where}: malformed ${line.slice(2, 6)}`);
        return; // a plain comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        helps.add(name);
      } else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`${where}: bad type`);
        if (types.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
        if (samplesOf.has(name)) throw new Error(`${where}: TYPE after samples of ${name}`);
        types.set(name, rest);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    // A summary's (or histogram's) samples carry suffixes after their family's name.
    const base = /^(.*)_(sum|count|bucket)$/.exec(name)?.[1];
    const family =
      types.has(name) || base === undefined || !['summary', 'histogram'].includes(types.get(base) ?? '') ? name : base;
    if (!types.has(family)) throw new Error(`${where}: sample of ${name} without a TYPE line`);
    if (types.get(family) === 'summary' && family === name && labelText?.includes('quantile=') !== true)
      throw new Error(`${where}: a summary sample without a quantile`);
    if (!VALUE.test(valueText)) throw new Error(`${where}: bad value`);
    const labels: Record<string, string> = {};
    if (labelText !== undefined) {
      // Walk the label set character by character: name="value" pairs, comma separated.
      let s = labelText.slice(1, -1);
      while (s.length > 0) {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s);
        if (!lm || !LABEL_NAME.test(lm[1]!)) throw new Error(`${where}: bad label name at "${s}"`);
        let j = lm[0].length;
        let value = '';
        for (;;) {
          const c = s[j];
          if (c === undefined) throw new Error(`${where}: unterminated label value`);
          if (c === '"') break;
          if (c === '\n') throw new Error(`${where}: raw newline in label value`);
          if (c === '\\') {
            const e = s[j + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`${where}: bad escape \\${e}`);
            j += 2;
            continue;
          }
          value += c;
          j++;
        }
        if (lm[1]! in labels) throw new Error(`${where}: duplicate label ${lm[1]}`);
        labels[lm[1]!] = value;
        s = s.slice(j + 1);
        if (s.startsWith(',')) s = s.slice(1);
        else if (s.length > 0) throw new Error(`${where}: expected , between labels`);
      }
    }
    const series = name + JSON.stringify(Object.entries(labels).sort());
    if (seenSamples.has(series)) throw new Error(`${where}: duplicate series`);
    seenSamples.add(series);
    samplesOf.add(family);
    out.push({ name, family, labels, value: Number(valueText.replace('Inf', 'Infinity')) });
  });
  return out;
}

const monitors: Monitor[] = [];
const peers: TestPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  for (const m of monitors.splice(0)) await m.close();
});

describe('/metrics', () => {
  it('the strict reader rejects what Prometheus would', () => {
    expect(() => parseExposition('# TYPE a gauge\na 1')).toThrow(/newline/);
    expect(() => parseExposition('a 1\n')).toThrow(/without a TYPE/);
    expect(() => parseExposition('# TYPE a gauge\na{x="1\\q"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n')).toThrow(/duplicate series/);
    expect(() => parseExposition('# TYPE a gauge\na{x="1" 1\n')).toThrow();
    expect(() => parseExposition('# TYPE a gauge\na one\n')).toThrow(/bad value/);
    expect(parseExposition('# TYPE a gauge\na{x="q\\"\\\\\\n"} +Inf\n')[0]!.labels).toEqual({ x: 'q"\\\n' });
  });

  it('escapes label values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('parses line by line as the exposition format, with kalab_* names labelled by host and role', async () => {
    const m = await createMonitor({ port: 0, sampleLocalTcp: false, tickMs: 50 });
    monitors.push(m);
    // Hostile names: quotes, backslashes, a newline; they must come out escaped.
    const p = await TestPeer.connect(m.url, { role: 'agent', name: 'we"ird\\name\nx', host: 'host "b"' });
    peers.push(p);
    p.send(tick(1, { requests: 120, connectionsOpened: 12 }, { errors: { ECONNRESET: 2 } }));
    p.send(
      tcpSample(
        'host "b"',
        { TIME_WAIT: 7, ESTABLISHED: 1 },
        { ephemeral: { range: [32768, 60999], inUse: 8, timeWait: 7 } },
      ),
    );
    const s = await TestPeer.connect(m.url, { role: 'server', name: 'srv', host: 'a' });
    peers.push(s);
    s.send({ v: V, type: 'tcp-sample', host: 'a', at: Date.now(), states: { LISTEN: 1 } });
    await until(
      () => m.snapshot(),
      (x) => x.sources.length === 2 && Object.keys(x.hosts).length === 2,
    );
    const res = await fetch(`${m.httpUrl}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = parseExposition(text);
    for (const x of samples) expect(x.name).toMatch(/^kalab_/);
    const req = samples.find((x) => x.name === 'kalab_requests_total' && x.labels['role'] === 'agent');
    expect(req).toEqual({
      name: 'kalab_requests_total',
      family: 'kalab_requests_total',
      labels: { host: 'host "b"', role: 'agent', name: 'we"ird\\name\nx' },
      value: 120,
    });
    expect(samples.find((x) => x.name === 'kalab_errors_total')?.labels['code']).toBe('ECONNRESET');
    expect(samples.find((x) => x.name === 'kalab_tcp_sockets' && x.labels['state'] === 'TIME_WAIT')).toMatchObject({
      labels: { host: 'host "b"' },
      value: 7,
    });
    expect(samples.find((x) => x.name === 'kalab_hub_peers' && x.labels['role'] === 'agent')?.value).toBe(1);
    // Every family has HELP and TYPE.
    const families = new Set(samples.map((x) => x.family));
    for (const f of families) {
      expect(text).toContain(`# HELP ${f} `);
      expect(text).toContain(`# TYPE ${f} `);
    }
  });

  it('latency and connect time are summaries in seconds: quantiles, _sum and _count of the merged histograms', async () => {
    const m = await createMonitor({ port: 0, sampleLocalTcp: false, tickMs: 50 });
    monitors.push(m);
    const p = await TestPeer.connect(m.url, { role: 'agent', name: 'lat' });
    peers.push(p);
    // 100 requests at 1 ms and 100 at 2 ms; 4 connects at 1.5 ms (exact in HDR below 2,048 µs).
    const latency = new LatencyHistogram();
    for (let i = 0; i < 100; i++) latency.recordUs(1000);
    for (let i = 0; i < 100; i++) latency.recordUs(2000);
    const connect = new LatencyHistogram();
    for (let i = 0; i < 4; i++) connect.recordUs(1500);
    p.send(
      tick(
        1,
        { requests: 200, connectionsOpened: 4 },
        { runId: 'r1', latencyHistogram: latency.encode(), connectHistogram: connect.encode() },
      ),
    );
    await until(
      () => m.snapshot(),
      (x) => x.merged.requests === 200,
    );
    const samples = parseExposition(await (await fetch(`${m.httpUrl}/metrics`)).text());
    const v = (name: string, labels: Record<string, string> = {}) =>
      samples.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels))?.value;
    expect(v('kalab_merged_latency_seconds', { quantile: '0.5' })).toBe(0.001);
    expect(v('kalab_merged_latency_seconds', { quantile: '0.99' })).toBe(0.002);
    expect(v('kalab_merged_latency_seconds', { quantile: '1' })).toBe(0.002);
    expect(v('kalab_merged_latency_seconds_count')).toBe(200);
    expect(v('kalab_merged_latency_seconds_sum')).toBe(0.3);
    expect(v('kalab_merged_connect_seconds', { quantile: '0.5' })).toBe(0.0015);
    expect(v('kalab_merged_connect_seconds_count')).toBe(4);
    expect(v('kalab_merged_connect_seconds_sum')).toBe(0.006);
    const text = await (await fetch(`${m.httpUrl}/metrics`)).text();
    expect(text).toContain('# TYPE kalab_merged_latency_seconds summary\n');
    expect(text).not.toMatch(/_milliseconds/);
  });

  it('samples the monitor own host TCP table (real /proc) and exposes it', async () => {
    const m = await createMonitor({ port: 0, hostName: 'the-monitor', tickMs: 50 });
    monitors.push(m);
    const snap = await until(
      () => m.snapshot(),
      (x) => x.hosts['the-monitor'] !== undefined,
    );
    // Real samples (socket rows included) still make a snapshot that passes the protocol schema.
    await until(
      () => m.snapshot(),
      (x) => x.history.at.length >= 2,
    );
    expect(() => SnapshotSchema.parse(m.snapshot())).not.toThrow();
    expect(m.snapshot().connections.length).toBeGreaterThan(0);
    // The monitor's own listening socket is in its table.
    expect(snap.hosts['the-monitor']!.states['LISTEN']).toBeGreaterThanOrEqual(1);
    const samples = parseExposition(await (await fetch(`${m.httpUrl}/metrics`)).text());
    expect(
      samples.some(
        (x) => x.name === 'kalab_tcp_sockets' && x.labels['host'] === 'the-monitor' && x.labels['state'] === 'LISTEN',
      ),
    ).toBe(true);
  });
});
