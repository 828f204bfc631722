#!/usr/bin/env node
// What `kalab observe --pid` costs: the observer's CPU at the default 100 ms interval while it
// watches one process holding N sockets (default 10,000: 5,000 loopback connections, both ends
// in that process), inside a private network namespace with the descriptor limit raised, never
// on the host. Compared with the manual way: `ss -tanp` once per interval.
//
//   node bench/observe-bench.mjs [--sockets 10000] [--seconds 10] [--interval 100]
//
// With --ebpf: the eBPF tracer (root, bpftrace) on a client that opens and closes loopback
// connections at --rate per second (default 10,000) for --seconds, bounded in count; reports
// the connections it counted against the client's own count and the observer's CPU (this
// process plus bpftrace; the BPF programs themselves run in the kernel, charged to whoever
// triggers them, and are not in this figure).
//
//   node bench/observe-bench.mjs --ebpf [--rate 10000] [--seconds 5]
//
// Needs built packages (pnpm -s build), Linux, unshare; root for raising the fd limit past the hard one.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { observePid, observeTraced } = await import(`${ROOT}packages/observe/dist/index.js`);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
if (process.argv.includes('--ebpf')) {
  await ebpfBench(arg('rate', 10_000), arg('seconds', 5));
  process.exit(0);
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
const report = await observePid({ pid, intervalMs, durationMs: seconds * 1000, tracer: 'sampling' });
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

/** CPU seconds (user + system) of a process from /proc/PID/stat, or null once it is gone. */
function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

async function ebpfBench(rate, seconds) {
  const net = await import('node:net');
  const srv = net.createServer((c) => {
    c.on('data', () => {});
    c.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  const total = Math.round(rate * seconds);
  // The client: `total` connections, at most `rate` a second, 64 at a time; each closed as soon as it opens.
  const code = `const net=require('net');let started=0,done=0;const total=${total},rate=${rate},t0=Date.now();
function one(){if(started>=total)return;if(started>=(Date.now()-t0)/1000*rate){setTimeout(one,1);return;}started++;
const s=net.connect(${port},'127.0.0.1',()=>s.end());s.on('data',()=>{});s.on('error',()=>{});s.on('close',()=>{done++;if(done===total){console.log(JSON.stringify({done,ms:Date.now()-t0}));process.exit(0)}one();});}
process.stdin.once('data',()=>{for(let i=0;i<64;i++)one();});`;
  const client = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const result = new Promise((r) => createInterface({ input: client.stdout }).once('line', (l) => r(JSON.parse(l))));
  let bpftracePid = null;
  let bpftraceCpu = 0;
  const watch = setInterval(() => {
    if (bpftracePid === null) {
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
          if (
            stat.includes('(bpftrace)') &&
            Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid
          )
            bpftracePid = Number(name);
        } catch {}
      }
    }
    if (bpftracePid !== null) bpftraceCpu = cpuOf(bpftracePid) ?? bpftraceCpu;
  }, 200);
  let cpu0 = null;
  let t0 = 0;
  let btCpu0 = 0;
  const report = await observeTraced({
    target: { pid: client.pid },
    durationMs: null, // the client's exit ends it: it makes a bounded number of connections
    onAttached: () => {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      btCpu0 = bpftraceCpu;
      client.stdin.write('go\n');
    },
  });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(watch);
  srv.close();
  const ran = await result;
  const nodeS = (cpu.user + cpu.system) / 1e6;
  const btS = bpftraceCpu - btCpu0;
  const rows = [
    ['connections the client made', ran.done],
    ['achieved rate, connections/s', Math.round((ran.done / ran.ms) * 1000)],
    ['connections the eBPF tracer counted', report.connections.opened],
    ['events bpftrace lost', report.lostEvents],
    ['observer CPU (node), % of one core', (((nodeS * 1000) / wallMs) * 100).toFixed(1)],
    ['observer CPU (bpftrace, sampled), % of one core', (((btS * 1000) / wallMs) * 100).toFixed(1)],
  ];
  process.stdout.write(
    `load average during the run: ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n`,
  );
  for (const [k, v] of rows) process.stdout.write(`${String(k).padEnd(52)}${String(v).padStart(10)}\n`);
  process.stdout.write(
    `${JSON.stringify({ mode: 'ebpf', rate, seconds, made: ran.done, counted: report.connections.opened, lost: report.lostEvents, nodeCpuS: nodeS, bpftraceCpuS: btS, wallMs: Math.round(wallMs) })}\n`,
  );
}
