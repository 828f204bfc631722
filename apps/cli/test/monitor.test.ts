import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseListen } from '../src/commands/monitor.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts `kalab monitor ...` and resolves with its stdout once the listening line is out. */
function startMonitor(args: string[]): Promise<{ child: ChildProcess; out: () => string; url: string }> {
  const child = spawn(process.execPath, [KALAB, 'monitor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m && out.includes('\n', m.index)) resolve({ child, out: () => out, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`monitor exited ${code}: ${out}`)));
  });
}

describe('kalab monitor / kalab report', () => {
  it('parses --listen forms and names the flag when wrong', () => {
    expect(parseListen('127.0.0.1:7070')).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseListen('9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(() => parseListen('localhost')).toThrow(/--listen must be HOST:PORT/);
  });

  it('serves /healthz and /metrics, and exits 0 on SIGTERM', async () => {
    const { child, url } = await startMonitor(['--listen', '127.0.0.1:0']);
    const http = url.replace('ws://', 'http://').replace(/\/ws$/, '');
    expect(await (await fetch(`${http}/healthz`)).text()).toBe('ok\n');
    expect(await (await fetch(`${http}/metrics`)).text()).toContain('# TYPE kalab_up gauge');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('generates and prints a token for a non-loopback bind', async () => {
    const { child, out, url } = await startMonitor(['--listen', '0.0.0.0:0']);
    if (!/token \S+\s/.test(out()))
      await new Promise<void>((r) => child.stdout!.on('data', () => /token \S+\s/.test(out()) && r()));
    const token = /token (\S+)/.exec(out())?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  });

  it('bad flags exit 2 with a one-line message naming the flag', () => {
    for (const [args, flag] of [
      [['--listen', 'nope'], '--listen'],
      [['--listen', '127.0.0.1:70000'], '--listen'],
      [['--listen', '127.0.0.1:0', '--record', '/proc/kalab-cannot-exist/runs'], '--record'],
      [['--listen', '127.0.0.1:0', '--heartbeat', '1ms'], '--heartbeat'],
    ] as const) {
      const r = spawnSync(process.execPath, [KALAB, 'monitor', ...args], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
    }
  });

  it('limits come from @kalab/monitor, messages name the flag and quote what was typed', () => {
    for (const [args, message] of [
      [['--heartbeat', '1ms'], '--heartbeat must be a duration from 50ms to 1h, got "1ms"'],
      [['--heartbeat', '999h'], '--heartbeat must be a duration from 50ms to 1h, got "999h"'],
      [['--snapshot-interval', '2m'], '--snapshot-interval must be a duration from 20ms to 1m, got "2m"'],
      [['--token', 'x'.repeat(257)], '--token must be 1 to 256 characters, got 257 characters'],
      [['--record', '/proc/kalab-cannot-exist/runs'], '--record: cannot create /proc/kalab-cannot-exist: ENOENT'],
    ] as const) {
      const r = spawnSync(process.execPath, [KALAB, 'monitor', '--listen', '127.0.0.1:0', ...args], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(`kalab: ${message}\n`);
    }
  });

  it('kalab report renders a recording and exits 2 on a file that is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kalab-report-'));
    try {
      const file = join(dir, 'run.jsonl');
      const at = 1_700_000_000_000;
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
      const run = {
        id: 'demo',
        target: 'http://127.0.0.1:8080/',
        source: { name: 'agent-1', host: 'client' },
        startedAt: at,
        running: false,
        outcome: 'completed',
      };
      const lines = [
        {
          kind: 'run',
          schema: 'kalab.recording/v1',
          at,
          run: { ...run, running: true, outcome: undefined },
          monitor: { host: 'm', version: '0.1.0' },
        },
        {
          kind: 'tick',
          at: at + 1000,
          elapsedMs: 1000,
          sources: [],
          merged,
          hosts: { client: { states: { TIME_WAIT: 10 }, exhaustionSeconds: null, at } },
        },
        {
          kind: 'summary',
          at: at + 1500,
          run,
          report: null,
          merged,
          hosts: { client: { states: { TIME_WAIT: 10 }, exhaustionSeconds: null, at } },
          findings: [],
        },
      ];
      writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const r = spawnSync(process.execPath, [KALAB, 'report', file], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('run demo');
      expect(r.stdout).toContain('outcome  completed after 1.5 s');
      expect(r.stdout).toContain('host client: TIME_WAIT 10');
      writeFileSync(file, 'hello\n{}\n');
      const bad = spawnSync(process.execPath, [KALAB, 'report', file], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/run\.jsonl:1: not a JSON line/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
