import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canUnshareNet, hasCommand, isRoot, missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function kalab(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [KALAB, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.end(opts.input ?? '');
    opts.onStart?.(child.pid!);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe('kalab observe: bad input', () => {
  it('no command is exit 2 and says how to give one', async () => {
    const r = await kalab(['observe', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kalab observe [options] -- COMMAND [ARGS...]');
    expect(r.stdout).toBe('');
  });

  it('a bad --tw-reuse or --port-range is exit 2 naming the flag and quoting the value', async () => {
    const a = await kalab(['observe', '--tw-reuse', '5', '--', 'true']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--tw-reuse must be 0, 1 or 2, got "5"');
    const b = await kalab(['observe', '--port-range', '5000-400', '--', 'true']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(
      '--port-range must be LOW-HIGH within 1024-65535 (the kernel refuses a low bound under 1024), got "5000-400"',
    );
  });

  it('--pid of no process is exit 2; --pid with a COMMAND too', async () => {
    const a = await kalab(['observe', '--pid', '4194000']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--pid 4194000: no such process');
    const b = await kalab(['observe', '--pid', '1', '--', 'true']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('give --pid or a COMMAND, not both');
    const c = await kalab(['observe', '--pid', 'abc']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--pid must be an integer from 1 to 4194304, got "abc"');
  });

  it('--pid --json --duration on a live process reports it by its command line', async () => {
    const r = await kalab([
      'observe',
      '--pid',
      String(process.pid),
      '--json',
      '--duration',
      '500ms',
      '--interval',
      '50ms',
      '--tracer',
      'sampling', // samples are this test's subject; eBPF: observe-ebpf-flags.test.ts and packages/observe
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({
      schema: 'kalab.observe/v1',
      mode: 'pid',
      pid: process.pid,
      exitCode: null,
      synSent: null,
    });
    expect(report.command).toContain('node');
    expect(report.samples).toBeGreaterThanOrEqual(5);
  });

  it('no way to make a namespace (unshare not on PATH) is exit 3 naming what is missing', async () => {
    const r = await kalab(['observe', '--', 'true'], { env: { ...process.env, PATH: '/nonexistent' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('unshare is not installed (util-linux)');
  });
});

describe.skipIf(missing('unshare -rn (user namespaces)', canUnshareNet()))('kalab observe -- COMMAND', () => {
  it('a command that does not exist is exit 127 with the shell’s message', async () => {
    const r = await kalab(['observe', '--', 'kalab-no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/kalab-no-such-command: (command )?not found/);
  });

  it('passes stdin, stdout and stderr through, exits with the program’s code, and prints the report last', async () => {
    const r = await kalab(['observe', '--json', '--', 'sh', '-c', 'cat; echo out; echo err >&2; exit 7'], {
      input: 'in\n',
    });
    expect(r.code).toBe(7);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['in', 'out']);
    const report = JSON.parse(lines.at(-1)!);
    expect(report).toMatchObject({
      schema: 'kalab.observe/v1',
      command: "sh -c 'cat; echo out; echo err >&2; exit 7'",
      exitCode: 7,
      connections: { opened: 0, accepted: 0, failed: 0, resetsSent: 0, resetsReceived: 0 },
      synSent: 0,
      timeWait: { total: 0, byRemote: {} },
      remotes: [],
      findings: [],
    });
    expect(report.samples).toBeGreaterThanOrEqual(2);
    expect(r.stderr.startsWith('err\n')).toBe(true);
    expect(r.stderr).toContain('kalab observe: sh -c');
  });

  it('--duration ends the program with SIGTERM (exit 143) and still reports', async () => {
    const r = await kalab(['observe', '--json', '--duration', '1s', '--', 'sleep', '30']);
    expect(r.code).toBe(143);
    expect(r.ms).toBeLessThan(10_000);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).exitCode).toBe(143);
  });

  it('Ctrl-C (SIGINT to kalab) stops the program and still reports', async () => {
    const r = await kalab(['observe', '--json', '--', 'sleep', '30'], {
      onStart: (pid) => setTimeout(() => process.kill(pid, 'SIGINT'), 1500),
    });
    expect(r.code).toBe(143);
    expect(r.ms).toBeLessThan(10_000);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).schema).toBe('kalab.observe/v1');
  });

  it('a program that ignores SIGTERM is killed after the grace period (exit 137)', async () => {
    const r = await kalab([
      'observe',
      '--duration',
      '500ms',
      '--',
      'sh',
      '-c',
      "trap '' TERM; while :; do sleep 0.1; done",
    ]);
    expect(r.code).toBe(137);
    expect(r.ms).toBeLessThan(15_000);
  });
});

// As an unprivileged user (setpriv to nobody): what cannot be done is exit 3, naming why.
describe.skipIf(
  missing('root and setpriv (to run as nobody)', isRoot() && hasCommand('setpriv')) ||
    missing('unshare -rn (user namespaces)', canUnshareNet()) ||
    missing(
      'a checkout user nobody can read (a parent directory such as a mktemp -d is mode 700)',
      isRoot() &&
        hasCommand('setpriv') &&
        spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', KALAB]).status === 0,
    ),
)('kalab observe as an unprivileged user', () => {
  function nobody(args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const child = spawn(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, KALAB, ...args],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/tmp' },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    });
  }

  it('runs the program in a user namespace (it is root in there, mapped to nobody)', async () => {
    const r = await nobody(['observe', '--json', '--', 'id', '-u']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('0');
  });

  it('--capture is exit 3: tcpdump cannot switch users inside an unprivileged user namespace', async () => {
    const r = await nobody(['observe', '--capture', '/tmp/kalab-observe-nobody.pcap', '--', 'true']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('run kalab observe as root for --capture');
  });

  it('--pid of a process it may not read is exit 3 naming the permission', async () => {
    const r = await nobody(['observe', '--pid', '1', '--duration', '1s']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      "cannot read /proc/1/fd: permission denied (run kalab as the process's user or as root)",
    );
  });
});
