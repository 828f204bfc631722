import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

function kalab(args: string[], opts: { env?: NodeJS.ProcessEnv; prefix?: string[] } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const [cmd, ...pre] = opts.prefix ?? [process.execPath];
    const child = spawn(cmd!, [...pre, ...(opts.prefix ? [process.execPath] : []), KALAB, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: '/tmp',
    });
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

describe('kalab observe --cgroup and --tracer: bad input', () => {
  it('a cgroup that does not exist is exit 2 naming --cgroup', async () => {
    const r = await kalab(['observe', '--cgroup', '/sys/fs/cgroup/kalab-no-such-cgroup']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--cgroup /sys/fs/cgroup/kalab-no-such-cgroup: no such cgroup v2 directory');
  });

  it('an unknown tracer is exit 2 naming the flag, or the variable', async () => {
    const a = await kalab(['observe', '--tracer', 'dtrace', '--pid', String(process.pid)]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--tracer must be auto, ebpf or sampling, got "dtrace"');
    const b = await kalab(['observe', '--pid', String(process.pid)], {
      env: { ...process.env, KALAB_OBSERVE_TRACER: 'magic' },
    });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('KALAB_OBSERVE_TRACER must be auto, ebpf or sampling, got "magic"');
  });

  it('--watch with --tracer ebpf is exit 2 (live lines come from samples)', async () => {
    const r = await kalab(['observe', '--pid', String(process.pid), '--watch', '--tracer', 'ebpf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--watch shows live samples: it goes with --tracer auto or sampling, not ebpf');
  });

  it('--tracer ebpf without bpftrace on PATH is exit 3 saying so', async () => {
    const r = await kalab(['observe', '--tracer', 'ebpf', '--pid', String(process.pid)], {
      env: { ...process.env, PATH: '/nonexistent' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('the eBPF tracer cannot run here: it needs');
    expect(r.stderr).toContain('bpftrace (bpftrace is not on PATH');
  });
});

describe.skipIf(
  missing('root and setpriv (to run as nobody)', isRoot() && hasCommand('setpriv')) ||
    missing(
      'a checkout user nobody can read',
      isRoot() &&
        hasCommand('setpriv') &&
        spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', KALAB]).status === 0,
    ),
)('kalab observe --tracer ebpf as an unprivileged user', () => {
  it('is exit 3 saying it needs root', async () => {
    const r = await kalab(['observe', '--tracer', 'ebpf', '--pid', String(process.pid)], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('it needs root (eBPF needs CAP_BPF)');
  });

  it('--cgroup is exit 3 too (eBPF only)', async () => {
    // The cgroup v2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system.
    const root =
      readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[2] === 'cgroup2')
        ?.split(' ')[1] ?? '/sys/fs/cgroup';
    const r = await kalab(['observe', '--cgroup', root], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('it needs root');
  });
});
