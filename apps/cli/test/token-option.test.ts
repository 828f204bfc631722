import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** KALAB_TOKEN removed from the test's own environment, so only what a case sets counts. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { KALAB_TOKEN: _, ...rest } = process.env;
  return { ...rest, ...extra };
}

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [KALAB, ...args], { encoding: 'utf8', timeout: 20_000, env: envWith(env) });
}

function spawnKalab(args: string[], env: Record<string, string> = {}): ChildProcess {
  const c = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: envWith(env) });
  children.push(c);
  return c;
}

/** A `kalab monitor` on a free loopback port: its ws URL, from the line it prints. */
async function startMonitor(args: string[], env: Record<string, string> = {}) {
  const proc = spawnKalab(['monitor', '--listen', '127.0.0.1:0', ...args], env);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.once('exit', (code) => reject(new Error(`monitor exited ${code}`)));
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  return { proc, url, http: url.replace('ws://', 'http://').replace(/\/ws$/, '') };
}

const secret = () => `tok-${randomBytes(12).toString('hex')}`;

async function waitFor<T>(f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('--token, --token-file and KALAB_TOKEN', () => {
  it("--token '' is exit 2 naming --token in every command that takes it", () => {
    for (const args of [
      ['server', '--port', '0', '--monitor', 'ws://127.0.0.1:1/ws'],
      ['loadgen', 'http://127.0.0.1:1/', '--monitor', 'ws://127.0.0.1:1/ws'],
      ['loadgen', '--agent', '--monitor', 'ws://127.0.0.1:1/ws'],
      ['monitor', '--listen', '127.0.0.1:0'],
      ['observe', '--monitor', 'ws://127.0.0.1:1/ws', '--', 'true'],
      ['dashboard', 'ws://127.0.0.1:1/ws'],
    ]) {
      const r = run([args[0]!, '--token', '', ...args.slice(1)]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toBe('kalab: --token must not be empty (leave it out for no token)\n');
    }
  });

  it('a bad --token-file is exit 2 naming it; both flags at once too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kalab-token-'));
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'two'), 'a\nb\n');
    writeFileSync(join(dir, 'big'), 'x'.repeat(5000));
    const cases: [string[], RegExp][] = [
      [['--token-file', join(dir, 'empty')], /--token-file ".*empty" is empty/],
      [['--token-file', join(dir, 'two')], /--token-file ".*two" must hold the token on one line/],
      [['--token-file', join(dir, 'big')], /--token-file ".*big" is 5000 bytes, more than the 4096-byte limit/],
      [['--token-file', dir], /--token-file ".*" is a directory, not a file/],
      [['--token-file', join(dir, 'none')], /--token-file cannot read ".*none" \(ENOENT\)/],
      [['--token', 'a', '--token-file', join(dir, 'two')], /--token and --token-file are two ways/],
    ];
    for (const [flags, msg] of cases) {
      const r = run(['monitor', '--listen', '127.0.0.1:0', ...flags]);
      expect(r.status, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a monitor with --token-file and an agent with KALAB_TOKEN: the agent joins, neither argv shows the token', async () => {
    const token = secret();
    const file = join(mkdtempSync(join(tmpdir(), 'kalab-token-')), 'token');
    writeFileSync(file, `  ${token}\n`);
    const mon = await startMonitor(['--token-file', file]);
    // The monitor took the file's token: reads need it.
    expect((await fetch(`${mon.http}/api/snapshot`)).status).toBe(401);
    const agent = spawnKalab(['loadgen', '--agent', '--monitor', mon.url, '--name', 'env-agent'], {
      KALAB_TOKEN: token,
    });
    const snap = await waitFor(
      async () =>
        (await (await fetch(`${mon.http}/api/snapshot`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          sources: { name: string; connected: boolean }[];
        },
      (s) => s.sources.some((x) => x.name === 'env-agent' && x.connected),
    );
    expect(snap.sources.find((x) => x.name === 'env-agent')?.connected).toBe(true);
    for (const p of [mon.proc, agent]) {
      const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
      expect(argv).toContain('kalab.js');
      expect(argv).not.toContain(token);
    }
  });

  it('a wrong KALAB_TOKEN is refused like a wrong --token (exit 3); an unused KALAB_TOKEN is no error', async () => {
    const mon = await startMonitor(['--token', secret()]);
    const agent = spawnKalab(['loadgen', '--agent', '--monitor', mon.url], { KALAB_TOKEN: 'wrong' });
    let err = '';
    agent.stderr!.on('data', (d) => {
      err += d;
    });
    expect(await new Promise((r) => agent.once('exit', r))).toBe(3);
    expect(err).toMatch(/wrong token/);
    // A loadgen without --monitor does not use the variable; --token there is still a mistake.
    const server = spawnKalab(['server', '--port', '0'], { KALAB_TOKEN: 'unused' });
    const port = await new Promise<string>((resolve) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    const r = run(['loadgen', `http://127.0.0.1:${port}/`, '-n', '2', '-c', '1'], { KALAB_TOKEN: 'unused' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(run(['loadgen', `http://127.0.0.1:${port}/`, '-n', '2', '--token', 'x']).stderr).toBe(
      'kalab: --token needs --monitor\n',
    );
  });

  it("observe --pid prints a kalab process's argv with --token X, --token=X and URL credentials redacted", async () => {
    const token = secret();
    const sleeper = spawn(
      process.execPath,
      [
        '-e',
        'setTimeout(() => {}, 20000)',
        '--',
        '--token',
        token,
        `--token=${token}`,
        `http://u:${token}@127.0.0.1:1/`,
      ],
      { stdio: 'ignore' },
    );
    children.push(sleeper);
    const r = run(['observe', '--pid', String(sleeper.pid), '--duration', '300ms', '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { command: string };
    expect(report.command).toContain('--token *** --token=*** http://***@127.0.0.1:1/');
    expect(r.stdout + r.stderr).not.toContain(token);
    const text = run(['observe', '--pid', String(sleeper.pid), '--duration', '300ms']);
    expect(text.stdout + text.stderr).toContain('--token ***');
    expect(text.stdout + text.stderr).not.toContain(token);
  });
});
