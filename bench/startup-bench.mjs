#!/usr/bin/env node
// Start-up of `kalab` as a process: `kalab --help`, `kalab netstat --json` and `kalab doctor --help`
// against `ss -tan` (the peer: a whole process that prints the TCP table) and `node -e 0` (the floor
// any Node command pays). Target: each kalab command under 150 ms.
//
//   pnpm build && node bench/startup-bench.mjs [--runs 15] [--cpu 1] [--json]
//
// In rounds: each round runs every command once, in a rotated order, so load that comes and goes
// on the machine is shared by all of them. Medians of the rounds (wall and CPU); "wall / ss" is
// the ratio of the wall medians. Every process runs pinned to --cpu (default 1, as the clients of
// the other benches; -1: not pinned). Needs python3 (the fork/wait4 wrapper), ss and taskset.
// Not a test: it prints a table and never fails.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { emitRows, loadAverage, median } from './lib/rows.mjs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const runs = arg('runs', 15);
// Every process on one CPU (the clients' CPU of the other benches), unless --cpu -1.
const cpu = arg('cpu', availableParallelism() > 1 ? 1 : -1);
const pin =
  cpu >= 0 && spawnSync('taskset', ['-c', String(cpu), 'true']).status === 0 ? ['taskset', '-c', String(cpu)] : [];
const json = process.argv.includes('--json');
const TARGET_MS = 150;

const KALAB = fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));
const node = process.execPath;
const commands = [
  { name: 'kalab --help', cmd: node, args: [KALAB, '--help'], kalab: true },
  { name: 'kalab netstat --json', cmd: node, args: [KALAB, 'netstat', '--json'], kalab: true },
  { name: 'kalab doctor --help', cmd: node, args: [KALAB, 'doctor', '--help'], kalab: true },
  { name: 'ss -tan', cmd: 'ss', args: ['-tan'] },
  { name: 'node -e 0', cmd: node, args: ['-e', '0'] },
];

// Each run goes through a small python3 wrapper that forks, execs and wait4()s the command: the
// wall time from fork to exit and the child's own CPU time (user + sys, from its rusage), which
// load on a shared machine inflates far less than wall time. stdout goes to /dev/null.
const WRAPPER = `
import json, os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = (time.perf_counter() - t) * 1e3
print(json.dumps({"wall": wall, "cpu": (ru.ru_utime + ru.ru_stime) * 1e3, "code": os.waitstatus_to_exitcode(status)}))
`;

/** One process, fork to exit: { wall, cpu } in ms; its exit code must be 0 (a broken build is not fast). */
function once({ cmd, args, name }) {
  return new Promise((resolve, reject) => {
    const argv = [...pin, 'python3', '-c', WRAPPER, cmd, ...args];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('close', () => {
      let r;
      try {
        r = JSON.parse(out);
      } catch {
        return reject(new Error(`${name}: the python3 wrapper failed: ${err.trim()}`));
      }
      if (r.code !== 0) reject(new Error(`${name} exited with ${r.code}: ${err.trim()}`));
      else resolve(r);
    });
  });
}

// One warm-up round (page cache, the ESM loader's first files), not counted.
for (const c of commands) await once(c);
const samples = new Map(commands.map((c) => [c.name, []]));
for (let round = 0; round < runs; round++) {
  for (let i = 0; i < commands.length; i++) {
    const c = commands[(i + round) % commands.length];
    samples.get(c.name).push(await once(c));
  }
}

const round1 = (x) => Math.round(x * 10) / 10;
const med = (name, key) => median(samples.get(name).map((s) => s[key]));
const ss = { wall: med('ss -tan', 'wall'), cpu: med('ss -tan', 'cpu') };
const floor = { wall: med('node -e 0', 'wall'), cpu: med('node -e 0', 'cpu') };
const rows = commands.map((c) => {
  const wall = med(c.name, 'wall');
  const cpu = med(c.name, 'cpu');
  return {
    command: c.name,
    wallMs: round1(wall),
    cpuMs: round1(cpu),
    wallOverNodeMs: c.cmd === node ? round1(wall - floor.wall) : null,
    wallRatioToSs: round1(wall / ss.wall),
    target: c.kalab ? (wall < TARGET_MS ? 'met' : `missed by ${Math.round(wall - TARGET_MS)} ms`) : null,
  };
});

if (json) {
  console.log(JSON.stringify({ runs, cpu, node: process.version, targetMs: TARGET_MS, rows }));
} else {
  console.log(
    `start-up as a process, median of ${runs} rounds on ${pin.length ? `CPU ${cpu}` : 'any CPU'} (Node ${process.version}, load average ${loadAverage()})\n`,
  );
  console.log(
    `${'command'.padEnd(22)}${'wall ms'.padStart(9)}${'cpu ms'.padStart(9)}${'wall - node'.padStart(13)}${'wall / ss'.padStart(11)}  wall < ${TARGET_MS} ms`,
  );
  for (const r of rows) {
    const overNode = r.wallOverNodeMs === null ? '' : r.wallOverNodeMs.toFixed(1);
    console.log(
      `${r.command.padEnd(22)}${r.wallMs.toFixed(1).padStart(9)}${r.cpuMs.toFixed(1).padStart(9)}${overNode.padStart(13)}${`${r.wallRatioToSs.toFixed(1)}x`.padStart(11)}  ${r.target ?? ''}`,
    );
  }
}

emitRows(
  'startup-bench',
  `median of ${runs} rotated rounds on ${pin.length ? `CPU ${cpu}` : 'any CPU'}, wall ms fork to exit; node -e 0 ${round1(floor.wall)} ms; load average ${loadAverage()}`,
  rows
    .filter((r) => r.target !== null)
    .map((r) => ({
      metric: `start-up: ${r.command}`,
      pair: `${r.command} / ss -tan`,
      kalab: r.wallMs,
      peer: round1(ss.wall),
      unit: 'ms',
      value: r.wallMs,
      target: TARGET_MS,
      cmp: '<',
    })),
);
