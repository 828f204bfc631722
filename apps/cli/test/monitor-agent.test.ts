import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(args: string[]) {
  return spawnSync(process.execPath, [KALAB, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('kalab loadgen --agent', () => {
  it('bad agent flags exit 2 naming the flag', () => {
    const cases: [string[], string][] = [
      [['loadgen', '--agent'], '--monitor'],
      [['loadgen', '--agent', '--monitor', 'http://127.0.0.1:1/'], '--monitor'],
      [['loadgen', '--agent', '--monitor', 'ws://127.0.0.1:1/ws', '--allow-target', 'a:b:c'], '--allow-target'],
      [['loadgen', '--agent', '--monitor', 'ws://127.0.0.1:1/ws', '--max-connections', '0'], '--max-connections'],
      [['loadgen', '--agent', '--monitor', 'ws://127.0.0.1:1/ws', '--max-duration', 'soon'], '--max-duration'],
      [['loadgen', 'http://127.0.0.1:1/', '--agent', '--monitor', 'ws://127.0.0.1:1/ws'], '--agent'],
    ];
    for (const [args, flag] of cases) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(flag);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('exits 3 when the monitor refuses its token', async () => {
    const mon = spawn(process.execPath, [KALAB, 'monitor', '--listen', '127.0.0.1:0', '--token', 'right'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(mon);
    const url = await new Promise<string>((resolve) => {
      let out = '';
      mon.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    const agent = spawn(process.execPath, [KALAB, 'loadgen', '--agent', '--monitor', url, '--token', 'wrong'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(agent);
    let err = '';
    agent.stderr!.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((r) => agent.once('exit', r));
    expect(code).toBe(3);
    expect(err).toMatch(/wrong token/);
  });
});
