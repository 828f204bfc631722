import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMonitor, type Monitor } from '@kalab/monitor';
import { afterEach, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-report-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function report(file: string) {
  return spawnSync(process.execPath, [KALAB, 'report', file], { encoding: 'utf8', timeout: 20_000 });
}

const HEADER = '{"kind":"run","schema":"kalab.recording/v1"}';
const GOOD_HEADER = JSON.stringify({
  kind: 'run',
  schema: 'kalab.recording/v1',
  at: 1_700_000_000_000,
  run: { id: 'x', source: { name: 'a', host: 'h' }, startedAt: 1_700_000_000_000, running: true },
  monitor: { host: 'm', version: '0.1.0' },
});

describe('kalab report on a malformed recording', () => {
  // Each of these crashed with a TypeError, a stack trace and exit 1.
  it.each([
    ['a bare header', `${HEADER}\n`, 1, /bad "run" line: at: /],
    ['a bare header and an empty tick', `${HEADER}\n{"kind":"tick"}\n`, 1, /bad "run" line: /],
    ['an empty tick', `${GOOD_HEADER}\n{"kind":"tick"}\n`, 2, /bad "tick" line: at: /],
    [
      'a tick dated "yesterday" at -5 ms',
      `${GOOD_HEADER}\n{"kind":"tick","at":"yesterday","elapsedMs":-5}\n`,
      2,
      /bad "tick" line: at: .*expected number, received string/,
    ],
    ['an empty summary', `${GOOD_HEADER}\n{"kind":"summary"}\n`, 2, /bad "summary" line: /],
    [
      'a summary whose report.requests is a string',
      `${GOOD_HEADER}\n${JSON.stringify({ kind: 'summary', at: 1, run: JSON.parse(GOOD_HEADER).run, report: { requests: '10' }, merged: {}, hosts: {}, findings: [] })}\n`,
      2,
      /bad "summary" line: report\./,
    ],
    ['a header whose run is null', `${JSON.stringify({ ...JSON.parse(GOOD_HEADER), run: null })}\n`, 1, /run: .*null/],
  ])('%s: exit 2, one line naming the line number and what is wrong', (_what, text, line, message) => {
    const file = join(tempDir(), 'bad.jsonl');
    writeFileSync(file, text);
    const r = report(file);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const err = r.stderr.trim().split('\n');
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(new RegExp(`^kalab: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}: `));
    expect(err[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a file that does not exist: exit 2 naming it', () => {
    const file = join(tempDir(), 'none.jsonl');
    const r = report(file);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`kalab: cannot read ${file}: ENOENT\n`);
  });
});

describe('kalab report on a real recording', () => {
  it('renders what a monitor recorded of a kalab loadgen --monitor run: 20 requests over 2 connections', async () => {
    const dir = tempDir();
    const monitor: Monitor = await createMonitor({ port: 0, recordDir: dir, sampleLocalTcp: false, tickMs: 100 });
    cleanups.push(() => monitor.close());
    const server = createServer((_req, res) => res.end('Hello world'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(r)));
    server.keepAliveTimeout = 10_000;
    const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const ended = once(monitor, 'run-ended');
    const load = spawn(
      process.execPath,
      [KALAB, 'loadgen', target, '-c', '2', '-n', '20', '-w', '1', '--monitor', monitor.url, '--name', 'rec'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const [code] = await once(load, 'exit');
    expect(code).toBe(0);
    const [run, file] = (await ended) as [{ outcome: string }, string];
    expect(run.outcome).toBe('completed');
    const r = report(file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`  target   ${target}`);
    expect(r.stdout).toContain('  source   rec on ');
    expect(r.stdout).toMatch(/^ {2}outcome {2}completed after \d/m);
    expect(r.stdout).toContain('requests     20 sent, 20 completed (20 ok, 0 non-2xx), 0 failed');
    expect(r.stdout).toMatch(/^connections {2}2 opened, 10 requests per connection/m);
  }, 30_000);
});
