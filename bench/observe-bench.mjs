#!/usr/bin/env node
// What `kalab observe --pid` costs: the observer's CPU at the default 100 ms interval while it
// watches one process holding N sockets (default 10,000: 5,000 loopback connections, both ends
// in that process), inside a private network namespace with the descriptor limit raised, never
// on the host. Compared with the manual way: `ss -tanp` once per interval.
//
//   node bench/observe-bench.mjs [--sockets 10000] [--seconds 10] [--interval 100]
//
// Needs built packages (pnpm -s build), Linux, unshare; root for raising the fd limit past the hard one.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { observePid } = await import(`${ROOT}packages/observe/dist/index.js`);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const sockets = arg('sockets', 10_000);
const seconds = arg('seconds', 10);
const intervalMs = arg('interval', 100);

const unshare = process.getuid?.() === 0 ? ['-n'] : ['-rn'];
const fill = `${ROOT}bench/netstat-fill.mjs`;
const holder = spawn(
  'unshare',
  [
    ...unshare,
    'sh',
    '-c',
    `ip link set lo up && ulimit -n ${sockets + 1024} && exec "$0" "$@"`,
    process.execPath,
    fill,
    '--established',
    String(Math.ceil(sockets / 2)),
    '--time-wait',
    '0',
    '--hold',
    String(seconds + 60),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const ready = await new Promise((resolve, reject) => {
  createInterface({ input: holder.stdout }).on('line', (l) => {
    if (l.includes('"ready"')) resolve(JSON.parse(l));
  });
  holder.on('exit', (code) => reject(new Error(`netstat-fill exited ${code}`)));
});
const pid = holder.pid;
process.stderr.write(`holder pid ${pid} ready: ${JSON.stringify(ready)}\n`);

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const report = await observePid({ pid, intervalMs, durationMs: seconds * 1000 });
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const observerPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;

// The manual way: ss -tanp (the process's sockets need -p) once per interval, over the same namespace.
const ssRuns = Math.min(20, Math.round((seconds * 1000) / intervalMs));
const ss0 = performance.now();
for (let i = 0; i < ssRuns; i++)
  spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ss', '-tanp'], { stdio: 'ignore', maxBuffer: 1 << 28 });
const ssMsPerRun = (performance.now() - ss0) / ssRuns;
holder.kill('SIGTERM');

const rows = [
  ['connections seen (both ends in the process)', report.lives.length + report.livesDropped],
  ['samples', report.samples],
  ['observer CPU, % of one core', observerPct.toFixed(1)],
  ['observer ms per sample (CPU)', ((cpu.user + cpu.system) / 1000 / report.samples).toFixed(2)],
  ['ss -tanp ms per run (wall, incl. spawn)', ssMsPerRun.toFixed(1)],
  ['ss -tanp every interval, % of one core (est.)', ((ssMsPerRun / intervalMs) * 100).toFixed(1)],
];
process.stderr.write(`${report.limits}\n`);
process.stdout.write(
  `load average during the run: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}\n`,
);
for (const [k, v] of rows) process.stdout.write(`${String(k).padEnd(48)}${String(v).padStart(10)}\n`);
process.stdout.write(
  `${JSON.stringify({ sockets, intervalMs, samples: report.samples, observerCpuPct: Number(observerPct.toFixed(2)), ssMsPerRun: Number(ssMsPerRun.toFixed(2)) })}\n`,
);
process.exit(0);
