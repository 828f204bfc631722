#!/usr/bin/env node
// Memory of `kalab loadgen` at 10,000 connections against `kalab server`, per worker, and
// whether its report is exact (the server's ledger agrees).
//
//   pnpm build && node bench/memory-bench.mjs [--seconds 60] [--quick] [--connections 10000]
//                  [--engines net,undici,http] [--workers 1,2] [--interval-ms 500] [--json]
//                  [--timeout D] [--backlog 65535] [--heap-snapshot-at S] [--node-options=FLAGS]
// (--timeout goes to the loadgen; --node-options=... to the loadgen's node, e.g.
// --node-options=--max-semi-space-size=1; --heap-snapshot-at S writes a heap snapshot of every
// loadgen isolate S seconds in, into the current directory.)
//
// Target: "a 60 s run at 10,000 connections against the lab server in a namespace
// (limits raised there) stays under 150 MiB RSS per worker and its report is exact".
//
// Each case (engine x -w) runs in a fresh private network namespace (`unshare -rn`, lo up,
// ip_local_port_range 1024-65535, `ulimit -n` raised to the hard limit, somaxconn 65535), so
// the host's ports and table are never touched. Inside it: `kalab server --port 8080` and
// `kalab loadgen http://127.0.0.1:8080/ -c N -d S -w W --engine E --json`, both separate
// processes. `--quick` is `--seconds 10`.
//
// How memory is measured (piscina workers are threads of one process, so the kernel has one
// RSS for the process, not one per worker):
// - the loadgen process's RSS: /proc/PID/status VmRSS sampled every --interval-ms, and its
//   exact peak (getrusage maxrss, written by the probe as the process exits);
// - each isolate's own heap: a probe module preloaded with `--import` (NODE_OPTIONS, which
//   worker threads inherit) samples process.memoryUsage() in the main thread and in every
//   worker thread (heapTotal, heapUsed, external, arrayBuffers are per isolate).
// "Per worker" is the peak process RSS divided by the workers: the main thread, Node's
// runtime and the shared allocator are charged to the workers, so with -w 1 it is the whole
// process. The -w 1 vs -w 2 rows also show what a second worker adds.
//
// "Exact": requests.completed == the ledger's requests, connections.opened == the ledger's
// connections == -c, no failed request. The bench's own GET /_kalab/stats is one connection
// and one request of the ledger, and is taken off. Not a test: it prints, never fails CI.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { emitRows } from './lib/rows.mjs';

const KALAB = fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const TARGET_MIB = 150;
const PORT = 8080;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    quick: { type: 'boolean', default: false },
    connections: { type: 'string', default: '10000' },
    engines: { type: 'string', default: 'net,undici,http' },
    workers: { type: 'string', default: '1,2' },
    'interval-ms': { type: 'string', default: '500' },
    backlog: { type: 'string', default: '65535' },
    'heap-snapshot-at': { type: 'string', default: '0' },
    timeout: { type: 'string' },
    'node-options': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
    inner: { type: 'string' },
  },
});

// Loaded into the loadgen process and each of its worker threads: one JSON line per sample.
const PROBE = `
import { appendFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
const file = process.env.KALAB_MEMPROBE;
const every = Number(process.env.KALAB_MEMPROBE_MS) || 500;
if (file) {
  const sample = (last) => {
    const m = process.memoryUsage();
    const line = { t: Date.now(), thread: threadId, main: isMainThread, rss: m.rss, heapTotal: m.heapTotal,
      heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    if (last && isMainThread) line.maxRss = process.resourceUsage().maxRSS * 1024;
    appendFileSync(file, JSON.stringify(line) + '\\n');
  };
  setInterval(() => sample(false), every).unref();
  const snapAt = Number(process.env.KALAB_MEMPROBE_SNAPSHOT_S);
  if (snapAt > 0) {
    const { writeHeapSnapshot } = await import('node:v8');
    const name = process.env.KALAB_MEMPROBE_SNAPSHOT_DIR + '/' + (isMainThread ? 'main' : 'worker-' + threadId) + '.heapsnapshot';
    setTimeout(() => writeHeapSnapshot(name), snapAt * 1000).unref();
  }
  process.on('exit', () => sample(true));
}
`;

// kalab server listens with a backlog of 65535 since f3c0b37 (the kernel caps it at somaxconn,
// which this bench raises to 65535 in its namespace). Builds before it used Node's 511: 10,000
// connects at once overflowed the accept queue (ListenOverflows in nstat). For those, the bench
// raises the backlog in the server process (net.Server#listen) when the server passes none;
// --backlog 0 leaves such a build at Node's default.
const BACKLOG = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
const backlog = Number(process.env.KALAB_BENCH_BACKLOG);
net.Server.prototype.listen = function (...a) {
  if (backlog > 0 && a[0] && typeof a[0] === 'object' && a[0].backlog === undefined) a[0] = { ...a[0], backlog };
  return listen.apply(this, a);
};
`;

if (args.inner) await inner(JSON.parse(args.inner));
else await outer();

async function outer() {
  const seconds = args.quick ? 10 : Number(args.seconds);
  const connections = Number(args.connections);
  const engines = args.engines.split(',');
  const workers = args.workers.split(',').map(Number);
  const flag = ['-rn', '-n'].find((f) => spawnSync('unshare', [f, 'true']).status === 0);
  if (!flag) throw new Error('unshare -rn / -n is not available here: the bench needs a private network namespace');
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  if (hard < connections + 512)
    console.error(`warning: ulimit -Hn is ${hard}: each process needs ${connections} sockets plus its own files`);

  const results = [];
  for (const engine of engines) {
    for (const w of workers) {
      const c = {
        engine,
        workers: w,
        connections,
        seconds,
        intervalMs: Number(args['interval-ms']),
        backlog: Number(args.backlog),
        snapshotAt: Number(args['heap-snapshot-at']),
        timeout: args.timeout,
        nodeOptions: args['node-options'],
        snapshotDir: process.cwd(),
      };
      console.error(`-- ${engine} -w ${w}: ${connections} connections for ${seconds} s in a private namespace`);
      const script = [
        'ip link set lo up',
        'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range',
        'echo 65535 > /proc/sys/net/core/somaxconn',
        'ulimit -n "$(ulimit -Hn)"',
        `exec "${process.execPath}" "${SELF}" --inner '${JSON.stringify(c)}'`,
      ].join(' && ');
      const child = spawn('unshare', [flag, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const code = await new Promise((r) => child.once('exit', r));
      const last = out.trim().split('\n').pop();
      try {
        results.push(JSON.parse(last));
      } catch {
        results.push({ ...c, error: `inner run exited ${code}: ${out.slice(-400)}` });
      }
    }
  }
  print(results, seconds, connections);
  if (args.json) console.log(JSON.stringify({ schema: 'kalab.bench.memory/v1', targetMiB: TARGET_MIB, results }));
  emitRows(
    'memory',
    `kalab loadgen -c ${connections} -d ${seconds}s against kalab server in a private namespace; per worker = peak process RSS / workers`,
    results.map((r) => ({
      metric: `RSS per worker, -c ${connections} ${seconds} s, ${r.engine} -w ${r.workers}${r.error ? ` (failed: ${r.error.split('\n')[0].slice(0, 80)})` : r.exact ? ', report exact' : r.agrees ? `, report agrees with the ledger (${r.timedOut} timed out, ${r.abandoned} in flight at the end)` : ', report does NOT agree with the ledger'}`,
      pair: 'peak RSS / workers',
      kalab: r.error ? null : r.peakRss / r.workers / MiB,
      peer: null,
      unit: 'MiB',
      value: r.error ? null : r.peakRss / r.workers / MiB,
      // Under the bound and the report agreeing with the server's ledger, or missed whatever its memory.
      ok: !r.error && (r.exact || r.agrees) && r.peakRss / r.workers / MiB < TARGET_MIB,
      target: TARGET_MIB,
      cmp: '<',
    })),
  );
}

function mib(n) {
  return n == null ? '-' : (n / MiB).toFixed(1);
}

function print(results, seconds, connections) {
  console.log(`\nkalab loadgen -c ${connections} -d ${seconds}s against kalab server, each case in its own namespace`);
  console.log(
    '| engine | -w | opened (ledger) | completed / sent (ledger) | failed | exact | rps | peak RSS MiB | RSS/worker MiB | RSS at end MiB | worker heap peak used/total MiB | main heap MiB | server peak RSS MiB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    if (r.error) {
      console.log(`| ${r.engine} | ${r.workers} | error: ${r.error.replace(/\n/g, ' ')} |`);
      continue;
    }
    const wh = r.workerHeaps.map((h) => `${mib(h.heapUsed)}/${mib(h.heapTotal)}`).join(', ');
    console.log(
      `| ${r.engine} | ${r.workers} | ${r.opened} (${r.ledger.opened}) | ${r.completed} / ${r.sent} (${r.ledger.requests}) | ${r.failed} | ${r.exact ? 'yes' : 'NO'} | ${Math.round(r.rps)} | ${mib(r.peakRss)} | ${mib(r.peakRss / r.workers)} | ${mib(r.endRss)} | ${wh} | ${mib(r.mainHeap?.heapUsed)}/${mib(r.mainHeap?.heapTotal)} | ${mib(r.serverPeakRss)} |`,
    );
  }
  console.log('');
  for (const r of results) {
    if (r.error) {
      console.log(`${r.engine} -w ${r.workers}: MISSED (the run failed: ${r.error.split('\n')[0]})`);
      continue;
    }
    const per = r.peakRss / r.workers / MiB;
    const ok = per < TARGET_MIB && r.exact;
    const why = [];
    if (per >= TARGET_MIB) why.push(`${per.toFixed(1)} MiB per worker is ${(per - TARGET_MIB).toFixed(1)} MiB over`);
    if (!r.exact) why.push(`report not exact: ${r.inexact.join('; ')}`);
    if (!r.exact) why.push(`accounting: ${r.accounting}`);
    console.log(
      `${r.engine} -w ${r.workers}: ${per.toFixed(1)} MiB RSS per worker (target < ${TARGET_MIB}), report ${r.exact ? 'exact' : 'NOT exact'}: ${ok ? 'met' : `MISSED (${why.join('; ')})`}`,
    );
  }
  const pairs = new Map();
  for (const r of results) if (!r.error) pairs.set(`${r.engine}/${r.workers}`, r.peakRss);
  for (const e of new Set(results.map((r) => r.engine))) {
    const a = pairs.get(`${e}/1`);
    const b = pairs.get(`${e}/2`);
    if (a && b) console.log(`${e}: a second worker (connections split 5,000 + 5,000) adds ${mib(b - a)} MiB of RSS`);
  }
}

function readRss(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let b = '';
        res.on('data', (d) => {
          b += d;
        });
        res.on('end', () => resolve(JSON.parse(b)));
      })
      .on('error', reject);
  });
}

async function inner(c) {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-memory-bench-'));
  const probe = join(dir, 'probe.mjs');
  const samplesFile = join(dir, 'samples.jsonl');
  const backlog = join(dir, 'backlog.mjs');
  writeFileSync(probe, PROBE);
  writeFileSync(backlog, BACKLOG);
  const server = spawn(
    process.execPath,
    ['--import', pathToFileURL(backlog).href, KALAB, 'server', '--host', '127.0.0.1', '--port', String(PORT)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KALAB_BENCH_BACKLOG: String(c.backlog) } },
  );
  await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).on('line', (l) => {
      if (l.startsWith('listening on')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`kalab server exited with ${code}`)));
  });

  const loadArgs = [
    KALAB,
    'loadgen',
    `http://127.0.0.1:${PORT}/`,
    '-c',
    String(c.connections),
    '-d',
    `${c.seconds}s`,
    '-w',
    String(c.workers),
    '--engine',
    c.engine,
    ...(c.timeout ? ['--timeout', c.timeout] : []),
    '--json',
  ];
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${c.nodeOptions} --import ${pathToFileURL(probe).href}`.trim(),
    KALAB_MEMPROBE: samplesFile,
    KALAB_MEMPROBE_MS: String(c.intervalMs),
    KALAB_MEMPROBE_SNAPSHOT_S: String(c.snapshotAt),
    KALAB_MEMPROBE_SNAPSHOT_DIR: c.snapshotDir,
  };
  const t0 = Date.now();
  const load = spawn(process.execPath, loadArgs, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  load.stdout.on('data', (d) => {
    out += d;
  });
  load.stderr.on('data', (d) => {
    err += d;
  });
  const timeline = [];
  let serverPeakRss = 0;
  const sampler = setInterval(() => {
    const rss = readRss(load.pid);
    if (rss > 0) timeline.push({ t: Date.now() - t0, rss });
    serverPeakRss = Math.max(serverPeakRss, readRss(server.pid));
  }, c.intervalMs);
  const code = await new Promise((r) => load.once('exit', r));
  clearInterval(sampler);

  const base = { engine: c.engine, workers: c.workers, connections: c.connections, seconds: c.seconds };
  let report;
  try {
    report = JSON.parse(out.trim().split('\n').pop());
  } catch {
    server.kill('SIGKILL');
    console.log(JSON.stringify({ ...base, error: `loadgen exited ${code}: ${err.slice(-400)}` }));
    return;
  }
  let stats;
  try {
    stats = await getJson(`http://127.0.0.1:${PORT}/_kalab/stats`);
  } catch (err) {
    server.kill('SIGKILL');
    console.log(JSON.stringify({ ...base, error: `reading the server's ledger: ${err.message}` }));
    return;
  }
  server.kill('SIGKILL');
  // The bench's own GET /_kalab/stats: one connection, one request.
  const ledger = { opened: stats.connections.opened - 1, requests: stats.requests.total - 1 };

  const samples = readFileSync(samplesFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  rmSync(dir, { recursive: true, force: true });
  const peakOf = (rows) => ({
    heapUsed: Math.max(0, ...rows.map((s) => s.heapUsed)),
    heapTotal: Math.max(0, ...rows.map((s) => s.heapTotal)),
    external: Math.max(0, ...rows.map((s) => s.external)),
    arrayBuffers: Math.max(0, ...rows.map((s) => s.arrayBuffers)),
  });
  const threads = [...new Set(samples.filter((s) => !s.main).map((s) => s.thread))].sort((a, b) => a - b);
  const workerHeaps = threads.map((id) => ({ thread: id, ...peakOf(samples.filter((s) => s.thread === id)) }));
  const mainHeap = peakOf(samples.filter((s) => s.main));
  const maxRss = samples.find((s) => s.maxRss)?.maxRss ?? 0;
  const sampledPeak = Math.max(0, ...timeline.map((s) => s.rss));

  const opened = report.connections.opened;
  const completed = report.requests.completed;
  const sent = report.requests.sent;
  // Sent, then torn down at the end of the run's grace with no response and no error.
  const abandoned = sent - completed - report.requests.failed;
  const inexact = [];
  if (sent !== ledger.requests) inexact.push(`sent ${sent} != ledger ${ledger.requests}`);
  if (completed !== ledger.requests)
    inexact.push(
      `completed ${completed} != ledger ${ledger.requests} (${ledger.requests - completed} fewer; ${abandoned} sent requests were still in flight when the run's grace ended)`,
    );
  if (opened !== ledger.opened) inexact.push(`opened ${opened} != ledger ${ledger.opened}`);
  if (opened !== c.connections) inexact.push(`opened ${opened} != -c ${c.connections}`);
  if (report.requests.failed !== 0) inexact.push(`${report.requests.failed} failed (${JSON.stringify(report.errors)})`);
  // Where the requests went, when they do not match one to one: those the server read and the
  // client saw answered, still had in flight when the run's grace ended, or gave up on
  // (ETIMEDOUT after the server read them); and those that failed before the server read them.
  const timedOut = report.errors.ETIMEDOUT ?? 0;
  const accounted = completed + abandoned + timedOut;
  const accounting =
    `ledger ${ledger.requests} ${accounted === ledger.requests ? '=' : '!='} completed ${completed} + in flight at the end ${abandoned} + timed out ${timedOut}; ` +
    `sent ${sent} - ledger ${ledger.requests} = ${sent - ledger.requests} failed before the server read them (of ${report.requests.failed - timedOut} other failures); ` +
    `connections: report ${opened} ${opened === ledger.opened ? '=' : '!='} ledger ${ledger.opened}`;
  console.log(
    JSON.stringify({
      ...base,
      accounting,
      engineReported: report.engine,
      opened,
      completed,
      sent,
      abandoned,
      failed: report.requests.failed,
      errors: report.errors,
      rps: report.throughput.rps,
      maxOpen: report.connections.maxOpen,
      ledger,
      exact: inexact.length === 0,
      inexact,
      // The report agrees with the server even when the run was not clean (timeouts of an
      // overloaded server, requests in flight at the end): every request the ledger counts is
      // completed, in flight at the end or timed out; every connection it accepted is counted.
      agrees:
        accounted === ledger.requests &&
        opened === ledger.opened &&
        sent - ledger.requests === report.requests.failed - timedOut,
      timedOut,
      peakRss: Math.max(maxRss, sampledPeak),
      sampledPeakRss: sampledPeak,
      endRss: timeline.at(-1)?.rss ?? 0,
      timeline: timeline.filter((_, i) => i % Math.max(1, Math.round(5000 / c.intervalMs)) === 0),
      workerHeaps,
      mainHeap,
      serverPeakRss,
    }),
  );
}
