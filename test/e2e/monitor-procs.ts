import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KALAB = fileURLToPath(new URL('../../apps/cli/bin/kalab.js', import.meta.url));

/** A spawned process whose output is kept and can be awaited line by line. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => {
      this.stdout += d;
      this.wake();
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.wake();
        resolve(code);
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first match of `re` in stdout (or stderr with `where`), or rejects on timeout/exit. */
  async waitFor(re: RegExp, timeoutMs = 30_000, where: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(where === 'stdout' ? this.stdout : this.stderr);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`process exited before ${re}: ${this.stdout}\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timeout waiting for ${re}; stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr.slice(-2000)}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** `kalab loadgen --agent ...` arguments: a named agent that takes runs at `allow` from `monitor`. */
export function agentArgs(o: { monitor: string; token: string; name: string; allow: string[]; maxDuration?: string }) {
  return [
    'loadgen',
    '--agent',
    '--monitor',
    o.monitor,
    '--token',
    o.token,
    '--name',
    o.name,
    '--allow-target',
    o.allow.join(','),
    '--max-duration',
    o.maxDuration ?? '30s',
    '--json',
  ];
}

export function kalab(args: string[]): Proc {
  return new Proc(process.execPath, [KALAB, ...args]);
}

/** `kalab ARGS` inside network namespace `ns`, in its own UTS namespace so it has its own host name. */
export function kalabInNetns(ns: string, hostName: string, args: string[]): Proc {
  const quoted = [process.execPath, KALAB, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Proc('ip', [
    'netns',
    'exec',
    ns,
    'unshare',
    '--uts',
    'sh',
    '-c',
    `hostname ${hostName} && exec ${quoted}`,
  ]);
}

export function sh(cmd: string): void {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

/**
 * A second "machine": a network namespace joined to this one by a veth pair, with private
 * addresses that exist only between the two (10.200.N.0/30). Traffic never leaves the host.
 */
export class NetnsPair {
  readonly ns: string;
  readonly hostIf: string;
  readonly hostAddr: string;
  readonly nsAddr: string;

  constructor() {
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = `${process.pid % 10000}${n}`;
    this.ns = `kalab-e2e-${tag}`;
    this.hostIf = `kve${tag}`.slice(0, 15);
    this.hostAddr = `10.200.${n}.1`;
    this.nsAddr = `10.200.${n}.2`;
  }

  up(): void {
    const peer = `${this.hostIf}p`.slice(0, 15);
    sh(`ip netns add ${this.ns}`);
    sh(`ip link add ${this.hostIf} type veth peer name ${peer}`);
    sh(`ip link set ${peer} netns ${this.ns}`);
    sh(`ip addr add ${this.hostAddr}/30 dev ${this.hostIf} && ip link set ${this.hostIf} up`);
    sh(
      `ip netns exec ${this.ns} sh -c 'ip addr add ${this.nsAddr}/30 dev ${peer} && ip link set ${peer} up && ip link set lo up'`,
    );
  }

  /** Runs `kalab ARGS` inside the namespace, in its own UTS namespace so it has its own host name. */
  kalab(hostName: string, args: string[]): Proc {
    return kalabInNetns(this.ns, hostName, args);
  }

  down(): void {
    spawnSync('sh', ['-c', `ip netns pids ${this.ns} 2>/dev/null | xargs -r kill -9`]);
    spawnSync('ip', ['netns', 'del', this.ns]);
    spawnSync('ip', ['link', 'del', this.hostIf]);
  }
}
