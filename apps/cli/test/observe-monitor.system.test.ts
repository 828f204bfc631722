import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createMonitor, type Monitor } from '@kalab/monitor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { canUnshareNet, missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../../packages/observe/test/fixtures/node/http-client.mjs', import.meta.url));

function kalab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(missing('unshare -rn (user namespaces)', canUnshareNet()))('kalab observe --monitor', () => {
  let monitor: Monitor;
  beforeAll(async () => {
    monitor = await createMonitor({ port: 0, token: 'observe-test', sampleLocalTcp: false, snapshotIntervalMs: 100 });
  });
  afterAll(() => monitor?.close());

  it('streams as role observer: the monitor sees its 10 connections and the namespace as a host', async () => {
    const r = await kalab([
      'observe',
      '--json',
      '--serve',
      '8080',
      '--monitor',
      monitor.url,
      '--token',
      'observe-test',
      '--name',
      'node-close',
      '--',
      process.execPath,
      CLIENT,
      'close',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('monitor');
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report.synSent).toBe(10);
    const snap = monitor.snapshot();
    const source = snap.sources.find((s) => s.name === 'node-close');
    expect(source).toMatchObject({ role: 'observer', totals: { requests: 10, connectionsOpened: 10 } });
    const host = Object.keys(snap.hosts).find((h) => h.includes('/observe-'));
    expect(host).toBeDefined();
    expect(snap.hosts[host!]!.states['TIME_WAIT']).toBe(10);
    // It sends no run-report: its goodbye ends its run, which the monitor shows as completed.
    await vi.waitFor(() =>
      expect(monitor.snapshot().run).toMatchObject({ id: expect.stringMatching(/^observe-/), running: false }),
    );
  });

  it('a wrong token is said on stderr and the observation goes on', async () => {
    const r = await kalab(['observe', '--monitor', monitor.url, '--token', 'wrong', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/kalab: monitor ws:\/\/.*: .*token/i);
  });
});
