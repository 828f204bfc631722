import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, formatRecording, type Monitor, readRecording } from '../src/index.js';
import { report, TestPeer, tcpSample, tick, until, V } from './test-peer.js';

const monitors: Monitor[] = [];
const peers: TestPeer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  for (const m of monitors.splice(0)) await m.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lines(file: string): { kind: string }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('--record DIR', () => {
  it('writes a run as JSON lines: header, one line per tick flushed as it happens, then the summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kalab-rec-'));
    dirs.push(dir);
    const m = await createMonitor({ port: 0, sampleLocalTcp: false, tickMs: 50, recordDir: dir });
    monitors.push(m);
    const agent = await TestPeer.connect(m.url, { role: 'agent', name: 'a', host: 'client-box' });
    peers.push(agent);
    agent.send({
      v: V,
      type: 'run-started',
      runId: 'run-1',
      target: 'http://127.0.0.1:8080/',
      engine: 'undici',
      config: { keepAlive: false },
    });
    agent.send(tick(1, { requests: 30, connectionsOpened: 30 }, { runId: 'run-1' }));
    agent.send(tcpSample('client-box', { TIME_WAIT: 30 }));
    const file = await until(
      () => m.recordingFor('run-1'),
      (f) => f !== undefined,
    );
    // Ticks are on disk while the run is still going: a crash now loses at most one.
    await until(
      () => lines(file!).filter((l) => l.kind === 'tick').length,
      (n) => n >= 3,
    );
    const ended = new Promise((resolve) => m.once('run-ended', (_run, f) => resolve(f)));
    agent.send({
      v: V,
      type: 'run-report',
      runId: 'run-1',
      report: report('http://127.0.0.1:8080/', 40, 40, {
        findings: [{ id: 'no-keepalive', severity: 'info', message: '1.0 requests per connection: keep-alive is off' }],
      }),
    });
    expect(await ended).toBe(file);
    expect(readdirSync(dir)).toHaveLength(1);
    const all = lines(file!);
    expect(all[0]).toMatchObject({
      kind: 'run',
      schema: 'kalab.recording/v1',
      run: { id: 'run-1', target: 'http://127.0.0.1:8080/' },
    });
    expect(all.at(-1)).toMatchObject({
      kind: 'summary',
      run: { outcome: 'completed' },
      report: { requests: { sent: 40 } },
    });
    const rec = readRecording(file!);
    expect(rec.ticks.at(-1)?.hosts['client-box']?.states['TIME_WAIT']).toBe(30);
    const text = formatRecording(rec);
    expect(text).toContain('run run-1');
    expect(text).toContain('requests     40 sent, 40 completed (40 ok, 0 non-2xx), 0 failed');
    expect(text).toContain('connections  40 opened, 1 requests per connection');
    expect(text).toContain('host client-box: TIME_WAIT 30');
    expect(text).toContain('[info] 1.0 requests per connection: keep-alive is off');
  });

  it('ends a run whose agent dies as lost, and appends the report if it comes later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kalab-rec-'));
    dirs.push(dir);
    const m = await createMonitor({ port: 0, sampleLocalTcp: false, tickMs: 50, recordDir: dir });
    monitors.push(m);
    const agent = await TestPeer.connect(m.url, { role: 'agent', name: 'a' });
    agent.send({ v: V, type: 'run-started', runId: 'r', target: 'http://127.0.0.1:1/', engine: 'http', config: {} });
    const file = await until(
      () => m.recordingFor('r'),
      (f) => f !== undefined,
    );
    agent.ws.terminate();
    await until(
      () => lines(file!).at(-1),
      (l) => l?.kind === 'summary',
    );
    expect(readRecording(file!).summary?.run.outcome).toBe('lost');
    const back = await TestPeer.connect(m.url, { role: 'agent', name: 'a' });
    peers.push(back);
    back.send({ v: V, type: 'run-report', runId: 'r', report: report('http://127.0.0.1:1/', 5, 5) });
    await until(
      () => readRecording(file!).summary?.run.outcome,
      (o) => o === 'completed',
    );
    expect(formatRecording(readRecording(file!))).toContain('requests     5 sent');
  });
});
