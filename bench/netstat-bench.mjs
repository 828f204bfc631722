#!/usr/bin/env node
// Reading + summarising a ~30,000-socket TCP table: @kalab/core against `ss -tan`.
//
//   pnpm --filter @kalab/core build && node bench/netstat-bench.mjs [--established 4000] [--time-wait 22000] [--runs 15]
//
// The sockets live in a private network namespace (`unshare -rn`, lo up, ip_local_port_range
// widened to 1024-65535, tcp_tw_reuse=0, `ulimit -n` raised to the hard limit) made by bench/netstat-fill.mjs:
// `--established` connections held open (2 sockets each) plus `--time-wait` connections closed
// client-first (1 TIME_WAIT socket each, no fd). The host never sees them. The lab reads the
// namespace through /proc/<pid>/net; ss runs inside it with `nsenter --net=/proc/<pid>/ns/net`.
// Runs are interleaved (lab, ss, lab, ss, ...) so both read the same table; TIME_WAIT lasts
// 60 s and the whole measurement takes a few seconds. Not a test: it prints a table, never fails.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { countStates, countTcpStatesSync, normalizeTcpState, readTcpTable, readTcpTableSync } from '@kalab/core';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const runs = arg('runs', 15);
const timeWait = arg('time-wait', 22_000);
let established = arg('established', 4000);

const hardNofile = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
if (2 * established + 256 > hardNofile) established = Math.floor((hardNofile - 256) / 2);

const FILL = fileURLToPath(new URL('./netstat-fill.mjs', import.meta.url));
const KALAB = fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const script = [
  'ip link set lo up',
  'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range',
  // no reuse of TIME_WAIT ports (loopback reuse is on by default): every close stays counted
  'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse',
  'ulimit -n "$(ulimit -Hn)"',
  `exec "${process.execPath}" "${FILL}" --established ${established} --time-wait ${timeWait} --hold 120`,
].join(' && ');

console.log(
  `filling a private namespace: ${established} open connections (${2 * established} sockets) + ${timeWait} closed client-first...`,
);
// `-rn` needs no root; as root where user namespaces are off (some containers), `-n`.
const flag = ['-rn', '-n'].find((f) => spawnSync('unshare', [f, 'true']).status === 0);
if (!flag) throw new Error('unshare -rn / -n is not available here: the bench needs a private network namespace');
const fill = spawn('unshare', [flag, 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
const ready = await new Promise((resolve, reject) => {
  createInterface({ input: fill.stdout }).once('line', (l) => resolve(JSON.parse(l)));
  fill.once('exit', (code) => reject(new Error(`netstat-fill exited with ${code} before it was ready`)));
});
const { pid } = ready;
console.log(
  `namespace ready in ${ready.churnMs} ms of churn (pid ${pid}): ${JSON.stringify({ established: ready.established, timeWait: ready.timeWait, failed: ready.failed })}`,
);

// A whole Node process that loads only the light entry point, reads and prints the summary.
const coldScript = `import { countTcpStatesSync } from '@kalab/core/tcp'; console.log(JSON.stringify(countTcpStatesSync({ pid: ${pid} })));`;

const nsenter = (args) =>
  spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

/** ss -tan inside the namespace, its output summarised by state (what the lab's summary gives). */
function ssSummary() {
  const r = nsenter(['ss', '-tan']);
  if (r.status !== 0) throw new Error(`nsenter ss failed: ${r.stderr}`);
  const counts = {};
  let rows = 0;
  const text = r.stdout;
  let pos = text.indexOf('\n') + 1; // header
  while (pos < text.length) {
    const sp = text.indexOf(' ', pos);
    const end = text.indexOf('\n', pos);
    if (sp < 0 || end < 0) break;
    const st = normalizeTcpState(text.slice(pos, sp)) ?? text.slice(pos, sp);
    counts[st] = (counts[st] ?? 0) + 1;
    rows++;
    pos = end + 1;
  }
  return { counts, rows };
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
function time(fn) {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return { ms: ms(t0), out };
}
async function timeAsync(fn) {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return { ms: ms(t0), out };
}

const cases = {
  'lab countTcpStates (read + count by state)': [],
  'lab readTcpTable + countStates (every row decoded)': [],
  'lab readTcpTable async + countStates': [],
  'ss -tan (nsenter + ss + summary by state)': [],
  'nsenter true (spawn overhead, for reference)': [],
  'node process: import @kalab/core/tcp, count (cold)': [],
  'kalab netstat --pid --json (whole CLI process)': [],
};
const names = Object.keys(cases);
let last = {};
let mismatches = 0;

// CPU time (user + sys, the kernel's work for the reader included) moves far less with the
// machine's load than wall time. The lab's from process.cpuUsage(); ss's from bash's `time`
// around `ss -tan > /dev/null` inside the namespace (ms resolution; no summary step).
const cpu = { 'lab countTcpStates': [], 'lab readTcpTable + countStates': [], 'ss -tan > /dev/null': [] };
function cpuMs(fn) {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}
function ssCpuMs() {
  const r = nsenter(['bash', '-c', 'TIMEFORMAT="%3U %3S"; time ss -tan > /dev/null']);
  const [u, sy] = r.stderr.trim().split(/\s+/).map(Number);
  return (u + sy) * 1000;
}

// warm-up: JIT, page cache, size hint of the read buffer
for (let i = 0; i < 3; i++) {
  countTcpStatesSync({ pid });
  countStates(readTcpTableSync({ pid }));
  ssSummary();
}

for (let i = 0; i < runs; i++) {
  const a = time(() => countTcpStatesSync({ pid }));
  cases[names[0]].push(a.ms);
  const b = time(() => {
    const rows = readTcpTableSync({ pid });
    return { rows: rows.length, counts: countStates(rows) };
  });
  cases[names[1]].push(b.ms);
  const c = await timeAsync(async () => countStates(await readTcpTable({ pid })));
  cases[names[2]].push(c.ms);
  const d = time(ssSummary);
  cases[names[3]].push(d.ms);
  const e = time(() => nsenter(['true']));
  cases[names[4]].push(e.ms);
  if (i < 5) {
    const g = time(() =>
      spawnSync(process.execPath, ['--input-type=module', '-e', coldScript], { cwd: BENCH_DIR, maxBuffer: 1 << 28 }),
    );
    cases[names[5]].push(g.ms);
    const f = time(() =>
      spawnSync(process.execPath, [KALAB, 'netstat', '--pid', String(pid), '--json'], { maxBuffer: 1 << 28 }),
    );
    cases[names[6]].push(f.ms);
  }
  cpu['lab countTcpStates'].push(cpuMs(() => countTcpStatesSync({ pid })));
  cpu['lab readTcpTable + countStates'].push(cpuMs(() => countStates(readTcpTableSync({ pid }))));
  cpu['ss -tan > /dev/null'].push(ssCpuMs());
  last = { lab: a.out, labRows: b.out.rows, ss: d.out };
  // Same table for both? (the table holds still: TIME_WAIT lasts 60 s, nothing else churns)
  const labCounts = JSON.stringify(
    Object.entries(a.out)
      .filter(([, n]) => n > 0)
      .sort(),
  );
  if (labCounts !== JSON.stringify(Object.entries(d.out.counts).sort()) || b.out.rows !== d.out.rows) mismatches++;
}

fill.stdin.end();
await new Promise((r) => fill.once('exit', r));

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const nonZero = (o) => Object.fromEntries(Object.entries(o).filter(([, n]) => n > 0));
const ssMs = median(cases[names[3]]);
const rowsTotal = last.labRows;

console.log(
  `\ntable: ${rowsTotal} sockets (lab) / ${last.ss.rows} (ss); by state: lab ${JSON.stringify(nonZero(last.lab))}, ss ${JSON.stringify(last.ss.counts)}`,
);
console.log(`runs where the lab's counts differed from ss's: ${mismatches} of ${runs}`);
console.log(`${runs} interleaved runs, median ms (min-max); ratio = ss median / this median (> 1: faster than ss)\n`);
const w = Math.max(...names.map((n) => n.length));
console.log(`${'case'.padEnd(w)}  ${'median'.padStart(8)}  ${'min-max'.padStart(15)}  ${'vs ss'.padStart(6)}`);
for (const n of names) {
  const xs = cases[n];
  const m = median(xs);
  const range = `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
  const ratio = n.startsWith('ss') || n.startsWith('nsenter') ? '' : `${(ssMs / m).toFixed(2)}x`;
  console.log(`${n.padEnd(w)}  ${m.toFixed(1).padStart(8)}  ${range.padStart(15)}  ${ratio.padStart(6)}`);
}

const ssCpu = median(cpu['ss -tan > /dev/null']);
console.log(`\nCPU time (user + sys), median ms of ${runs} runs; ratio = ss / this\n`);
const wc = Math.max(...Object.keys(cpu).map((n) => n.length));
for (const [n, xs] of Object.entries(cpu)) {
  const m = median(xs);
  console.log(
    `${n.padEnd(wc)}  ${m.toFixed(1).padStart(8)}  ${n.startsWith('ss') ? '' : `${(ssCpu / m).toFixed(2)}x`.padStart(6)}`,
  );
}
