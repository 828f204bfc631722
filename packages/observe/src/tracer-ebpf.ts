import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BadOptionError, parseProcNetTcp, UnsupportedError } from '@kalab/core';

/**
 * Exact connection accounting from kernel tracepoints, the way bcc's tcplife and tcpconnect do
 * it, driven through bpftrace: `sock:inet_sock_set_state` for every state change,
 * `tcp:tcp_send_reset` / `tcp:tcp_receive_reset` for resets, `sched:sched_process_fork` to
 * follow children. Sockets are keyed by their kernel address; the owner is recorded when the
 * socket is born in process context (connect: CLOSE -> SYN_SENT) or, for an accepted one, from
 * the listener whose port it was born on (LISTEN -> SYN_RECV fires in softirq, where the
 * current pid is whoever happened to run).
 */

/** Linux TCP states as the tracepoint numbers them (include/net/tcp_states.h). */
const ESTABLISHED = 1;
const SYN_SENT = 2;
const FIN_WAIT1 = 4;
const FIN_WAIT2 = 5;
const CLOSE = 7;
const CLOSE_WAIT = 8;
const LISTEN = 10;
const CLOSING = 11;

export type TracerChoice = 'auto' | 'ebpf' | 'sampling';

/** The environment variable that picks the tracer when no flag does (tests, users without root). */
export const TRACER_ENV = 'KALAB_OBSERVE_TRACER';

export function parseTracer(option: string, value: string | undefined): TracerChoice {
  const v = value ?? 'auto';
  if (v !== 'auto' && v !== 'ebpf' && v !== 'sampling')
    throw new BadOptionError(option, `${option} must be auto, ebpf or sampling, got "${v}"`);
  return v;
}

export interface EbpfNeeds {
  /** The kernel's BTF (default /sys/kernel/btf/vmlinux). */
  btfPath?: string;
  /** The bpftrace binary (default: bpftrace on PATH). */
  bpftrace?: string;
}

/** What keeps eBPF from running here, in words (empty: it can run). Mounts tracefs when it is missing. */
export function ebpfMissing(needs: EbpfNeeds = {}): string[] {
  const missing: string[] = [];
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) missing.push('root (eBPF needs CAP_BPF)');
  const btf = needs.btfPath ?? '/sys/kernel/btf/vmlinux';
  if (!existsSync(btf)) missing.push(`the kernel's BTF (${btf})`);
  const bin = needs.bpftrace ?? 'bpftrace';
  if (spawnSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' }).status !== 0)
    missing.push(`bpftrace (${bin} is not on PATH; Debian package bpftrace)`);
  if (missing.length === 0 && !existsSync('/sys/kernel/tracing/events/sock/inet_sock_set_state')) {
    spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
    if (!existsSync('/sys/kernel/tracing/events/sock/inet_sock_set_state'))
      missing.push('tracefs with the sock:inet_sock_set_state tracepoint (mount -t tracefs nodev /sys/kernel/tracing)');
  }
  return missing;
}

/** The eBPF tracer, or sampling, for a choice: `ebpf` where it cannot run is an exit-3 error naming what is missing. */
export function resolveTracer(choice: TracerChoice, needs: EbpfNeeds = {}): 'ebpf' | 'sampling' {
  if (choice === 'sampling') return 'sampling';
  const missing = ebpfMissing(needs);
  if (missing.length === 0) return 'ebpf';
  if (choice === 'ebpf') throw new UnsupportedError(`the eBPF tracer cannot run here: it needs ${missing.join(', ')}`);
  return 'sampling';
}

/** A cgroup v2 directory, checked: exit 2 naming --cgroup when it is not one. */
export function checkCgroup(path: string): string {
  if (!path.startsWith('/') || /["\\\n]/.test(path))
    throw new BadOptionError('--cgroup', `--cgroup must be an absolute cgroup v2 directory, got "${path}"`);
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    dir = false;
  }
  if (!dir || !existsSync(`${path}/cgroup.procs`))
    throw new BadOptionError('--cgroup', `--cgroup ${path}: no such cgroup v2 directory (it has no cgroup.procs)`);
  return path;
}

/** Who is watched: a process and its descendants, or every process of a cgroup. */
export type EbpfTarget = { pid: number } | { cgroup: string };

/** One socket's life as the tracepoints told it. */
export interface TracedSocket {
  pid: number;
  role: 'client' | 'server';
  local: string;
  remote: string;
  bornMs: number;
  /** When it reached ESTABLISHED (null: it never did). */
  establishedMs: number | null;
  closedMs: number | null;
  /** Which end sent the first FIN: this socket's end, the peer, or both at once. */
  firstFin: 'local' | 'remote' | 'both' | null;
  /** When the first FIN was sent or received. */
  firstFinMs: number | null;
  resetSent: boolean;
  resetReceived: boolean;
  /** This end went FIN_WAIT2/CLOSING -> CLOSE with no reset: it holds the TIME_WAIT. */
  timeWait: boolean;
  lastState: number;
}

export interface EbpfTrace {
  sockets: TracedSocket[];
  durationMs: number;
  /** Events bpftrace said it lost (its perf buffer was full): the counts are short by these. */
  lost: number;
  /** Output lines that did not parse (bounded, never trusted). */
  malformed: number;
}

/** The pid and every descendant, from /proc (the ones born later are followed by the fork tracepoint). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 100_000) {
    const p = queue.shift()!;
    out.push(p);
    for (const c of children.get(p) ?? []) queue.push(c);
  }
  return out;
}

/** The ports each process listens on, with its network namespace's inode (a listener born later is seen live). */
function listeners(pids: readonly number[]): Array<{ pid: number; netns: number; port: number }> {
  const out: Array<{ pid: number; netns: number; port: number }> = [];
  for (const pid of pids) {
    try {
      const netns = statSync(`/proc/${pid}/ns/net`).ino;
      const inodes = new Set<number>();
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'latin1' }));
        if (m) inodes.add(Number(m[1]));
      }
      for (const family of [4, 6] as const) {
        const file = `/proc/${pid}/net/tcp${family === 6 ? '6' : ''}`;
        if (!existsSync(file)) continue;
        for (const s of parseProcNetTcp(readFileSync(file), family, { inode: true }))
          if (s.state === 'LISTEN' && s.inode && inodes.has(s.inode)) out.push({ pid, netns, port: s.local.port });
      }
    } catch {
      // gone or unreadable: its later listeners are still seen by the tracepoint
    }
  }
  return out;
}

/** The bpftrace program for a target: every value in it is a validated integer or a checked path. */
export function ebpfScript(target: EbpfTarget, pids: readonly number[], listening: ReturnType<typeof listeners>) {
  const mine = 'pid' in target ? '@tracked[pid]' : `cgroup == cgroupid("${target.cgroup}")`;
  const init = [
    ...pids.map((p) => `  @tracked[${Math.trunc(p)}] = 1;`),
    ...listening.map(
      (l) => `  @listen[(uint64)${Math.trunc(l.netns)}, (uint64)${Math.trunc(l.port)}] = ${Math.trunc(l.pid)};`,
    ),
  ];
  const ns = '((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum';
  const state = (v: 4 | 6) => {
    const a = (dir: 's' | 'd') => `ntop(args->${dir}addr${v === 6 ? '_v6' : ''})`;
    return `printf("S %llx %d %d %llu %s %d %s %d\\n", (uint64)args->skaddr, args->oldstate, args->newstate, nsecs / 1000, ${a('s')}, args->sport, ${a('d')}, args->dport);`;
  };
  return `
BEGIN {
${init.join('\n')}
  printf("READY\\n");
}
tracepoint:sched:sched_process_fork /@tracked[pid]/ { @tracked[args->child_pid] = 1; }
tracepoint:sched:sched_process_exit /@tracked[pid] && pid == tid/ { delete(@tracked[pid]); printf("E %d %llu\\n", pid, nsecs / 1000); }
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate == ${CLOSE} && args->newstate == ${SYN_SENT} && ${mine}/ {
  @sk[(uint64)args->skaddr] = pid;
  printf("C %d %llx %llu\\n", pid, (uint64)args->skaddr, nsecs / 1000);
}
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate == ${CLOSE} && args->newstate == ${LISTEN} && ${mine}/ {
  @listen[(uint64)${ns}, (uint64)args->sport] = pid;
}
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate == ${LISTEN} && @listen[(uint64)${ns}, (uint64)args->sport]/ {
  @sk[(uint64)args->skaddr] = @listen[(uint64)${ns}, (uint64)args->sport];
  printf("A %d %llx %llu\\n", @listen[(uint64)${ns}, (uint64)args->sport], (uint64)args->skaddr, nsecs / 1000);
}
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && @sk[(uint64)args->skaddr] && args->newstate != ${SYN_SENT}/ {
  if (args->family == 2) { ${state(4)} } else { ${state(6)} }
  if (args->newstate == ${CLOSE}) { delete(@sk[(uint64)args->skaddr]); }
}
tracepoint:tcp:tcp_send_reset /args->skaddr != 0 && @sk[(uint64)args->skaddr]/ { printf("R s %llx %llu\\n", (uint64)args->skaddr, nsecs / 1000); }
tracepoint:tcp:tcp_receive_reset /@sk[(uint64)args->skaddr]/ { printf("R r %llx %llu\\n", (uint64)args->skaddr, nsecs / 1000); }
`;
}

/** Longest line bpftrace may send; longer ones are counted as malformed and dropped. */
const MAX_LINE = 512;

const HEX = /^[0-9a-f]{1,16}$/;

/** One parsed line: C connect, A accept, S state change, R reset, E exit. Times are kernel µs (monotonic, all CPUs). */
type TraceEvent =
  | { k: 'C' | 'A'; us: number; pid: number; sk: string }
  | { k: 'S'; us: number; sk: string; old: number; now: number; local: string; remote: string }
  | { k: 'R'; us: number; sk: string; sent: boolean }
  | { k: 'E'; us: number; pid: number };

/** How far back events from another CPU's buffer may still arrive: older ones are applied in time order. */
const REORDER_US = 500_000;

/**
 * Turns bpftrace's line stream into socket lives. bpftrace reads one buffer per CPU, so a
 * socket's events can arrive out of order (its connect on one CPU, its ESTABLISHED in softirq on
 * another): events are held for a short window and applied in kernel time order.
 */
export class EbpfLineReader {
  private open = new Map<string, TracedSocket>();
  private pending: TraceEvent[] = [];
  private latestUs = 0;
  private t0Us: number | null = null;
  readonly done: TracedSocket[] = [];
  lost = 0;
  malformed = 0;
  ready = false;
  exited = new Set<number>();

  /** ms since the first event (the start of the trace). */
  private ms(us: number): number {
    this.t0Us ??= us;
    return Math.max(0, Math.round((us - this.t0Us) / 100) / 10);
  }

  private parse(text: string): TraceEvent | null {
    const f = text.split(' ');
    const int = (s: string | undefined) => (s !== undefined && /^\d{1,20}$/.test(s) ? Number(s) : Number.NaN);
    const hex = (s: string | undefined) => s !== undefined && HEX.test(s);
    const ep = (a: string, p: string) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
    if (f[0] === 'E' && f.length === 3 && Number.isFinite(int(f[1])) && Number.isFinite(int(f[2])))
      return { k: 'E', pid: int(f[1]), us: int(f[2]) };
    if (
      (f[0] === 'C' || f[0] === 'A') &&
      f.length === 4 &&
      hex(f[2]) &&
      Number.isFinite(int(f[1])) &&
      Number.isFinite(int(f[3]))
    )
      return { k: f[0], pid: int(f[1]), sk: f[2]!, us: int(f[3]) };
    if (f[0] === 'S' && f.length === 9 && hex(f[1])) {
      const [, sk, o, n, t, sa, sp, da, dp] = f;
      const nums = [int(o), int(n), int(t), int(sp), int(dp)];
      if (nums.every(Number.isFinite) && /^[0-9a-f.:]{2,45}$/.test(sa!) && /^[0-9a-f.:]{2,45}$/.test(da!))
        return {
          k: 'S',
          sk: sk!,
          old: nums[0]!,
          now: nums[1]!,
          us: nums[2]!,
          local: ep(sa!, sp!),
          remote: ep(da!, dp!),
        };
    }
    if (f[0] === 'R' && f.length === 4 && (f[1] === 's' || f[1] === 'r') && hex(f[2]) && Number.isFinite(int(f[3])))
      return { k: 'R', sent: f[1] === 's', sk: f[2]!, us: int(f[3]) };
    return null;
  }

  line(text: string): void {
    if (text.length > MAX_LINE) {
      this.malformed++;
      return;
    }
    const lost = /Lost (\d+) events/.exec(text);
    if (lost) {
      this.lost += Number(lost[1]);
      return;
    }
    if (text === 'READY') {
      this.ready = true;
      return;
    }
    if (text === '' || text.startsWith('Attaching')) return;
    const e = this.parse(text);
    if (!e) {
      this.malformed++;
      return;
    }
    if (e.k === 'E') this.exited.add(e.pid);
    this.pending.push(e);
    this.latestUs = Math.max(this.latestUs, e.us);
    if (this.pending.length >= 4096) this.flush(this.latestUs - REORDER_US);
  }

  /** Applies held events older than `beforeUs`, oldest first. */
  flush(beforeUs = Number.POSITIVE_INFINITY): void {
    this.pending.sort((a, b) => a.us - b.us);
    let i = 0;
    for (; i < this.pending.length && this.pending[i]!.us < beforeUs; i++) this.apply(this.pending[i]!);
    this.pending = this.pending.slice(i);
  }

  private apply(e: TraceEvent): void {
    if (e.k === 'E') return;
    if (e.k === 'C' || e.k === 'A') {
      this.open.set(e.sk, {
        pid: e.pid,
        role: e.k === 'C' ? 'client' : 'server',
        local: '',
        remote: '',
        bornMs: this.ms(e.us),
        establishedMs: null,
        closedMs: null,
        firstFin: null,
        firstFinMs: null,
        resetSent: false,
        resetReceived: false,
        timeWait: false,
        lastState: e.k === 'C' ? SYN_SENT : 3,
      });
      return;
    }
    const s = this.open.get(e.sk);
    if (!s) return; // born before the trace: not this run's
    if (e.k === 'R') {
      if (e.sent) s.resetSent = true;
      else s.resetReceived = true;
      return;
    }
    if (e.k !== 'S') return;
    s.local = e.local;
    s.remote = e.remote;
    s.lastState = e.now;
    const at = this.ms(e.us);
    if (e.now === ESTABLISHED) s.establishedMs = at;
    if (e.old === ESTABLISHED && e.now === FIN_WAIT1) s.firstFin ??= 'local';
    if (e.old === ESTABLISHED && e.now === CLOSE_WAIT) s.firstFin ??= 'remote';
    if (e.old === FIN_WAIT1 && e.now === CLOSING && s.firstFin === 'local') s.firstFin = 'both';
    if (s.firstFin !== null) s.firstFinMs ??= at;
    if (e.now === CLOSE) {
      s.closedMs = at;
      s.timeWait = (e.old === FIN_WAIT2 || e.old === CLOSING) && !s.resetReceived && !s.resetSent;
      this.open.delete(e.sk);
      this.done.push(s);
    }
  }

  /** Every life: closed ones, then the ones still open at the end. */
  all(): TracedSocket[] {
    this.flush();
    return [...this.done, ...this.open.values()];
  }
}

export interface TraceOptions {
  target: EbpfTarget;
  durationMs?: number | null;
  signal?: AbortSignal;
  /** Called once bpftrace has attached every probe: connections from here on are counted. */
  onAttached?: () => void;
  bpftrace?: string;
}

/**
 * Runs bpftrace until the process (and its children) exit, the duration ends or `signal`
 * aborts, and returns every socket it saw born. Attaching takes bpftrace seconds on a busy machine.
 */
export async function traceConnections(opts: TraceOptions): Promise<EbpfTrace> {
  const { target } = opts;
  let pids: number[] = [];
  if ('pid' in target) {
    if (!existsSync(`/proc/${target.pid}`)) throw new BadOptionError('--pid', `--pid ${target.pid}: no such process`);
    pids = descendants(target.pid);
  }
  const listenPids =
    'pid' in target
      ? pids
      : readFileSync(`${target.cgroup}/cgroup.procs`, 'latin1')
          .split('\n')
          .filter((l) => /^\d+$/.test(l))
          .map(Number);
  const script = ebpfScript(target, pids, listeners(listenPids));
  const child = spawn(opts.bpftrace ?? 'bpftrace', ['-B', 'line', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Room for many open sockets in the maps and bursts in the perf buffer.
    env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: '262144', BPFTRACE_PERF_RB_PAGES: '4096' },
  });
  const reader = new EbpfLineReader();
  let stderr = '';
  let attached!: () => void;
  const attachedP = new Promise<void>((r) => {
    attached = r;
  });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const wasReady = reader.ready;
    reader.line(l);
    if (!wasReady && reader.ready) attached();
  });
  createInterface({ input: child.stderr! }).on('line', (l) => {
    if (/Lost \d+ events/.test(l)) reader.line(l);
    else if (stderr.length < 4000 && !l.includes('RLIMIT_MEMLOCK')) stderr += `${l}\n`;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
  const startFail = await Promise.race([attachedP.then(() => null), exited.then((code) => code ?? -1)]);
  if (startFail !== null)
    throw new UnsupportedError(`bpftrace could not attach (exit ${startFail}): ${stderr.trim().split('\n')[0] ?? ''}`);
  const t0 = performance.now();
  opts.onAttached?.();
  const until = opts.durationMs ? t0 + opts.durationMs : Number.POSITIVE_INFINITY;
  const gone = () => {
    if ('pid' in target) return !existsSync(`/proc/${target.pid}`) || reader.exited.has(target.pid);
    return false;
  };
  while (!opts.signal?.aborted && performance.now() < until && !gone()) await new Promise((r) => setTimeout(r, 50));
  const durationMs = Math.round(performance.now() - t0);
  // Events of the last moment may sit in another CPU's buffer: give bpftrace a moment to read them.
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
  return { sockets: reader.all(), durationMs, lost: reader.lost, malformed: reader.malformed };
}
