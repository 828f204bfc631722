#!/usr/bin/env node
// What merging a fan-out costs: 64 agents' reports, each with a full latency HDR histogram
// (values spread over 1 µs..10 s, so most buckets are filled) and its connect times, merged by
// @kalab/loadgen's mergeFanOut (the lab's one Aggregate and report builder). The fan-out asks
// for < 50 ms; the bench prints the median and worst of its runs and never fails.
//
//   node bench/merge-bench.mjs [--agents 64] [--samples 200000] [--runs 15]
//
// Needs built packages (pnpm -s build).
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { LatencyHistogram } = await import(`${ROOT}packages/core/dist/index.js`);
const { mergeFanOut } = await import(`${ROOT}packages/loadgen/dist/index.js`);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const agents = arg('agents', 64);
const samples = arg('samples', 200_000);
const runs = arg('runs', 15);

/** A log-uniform spread from 1 µs to 10 s: every magnitude, so the histogram is full, not a spike. */
function filled(seed, n) {
  const h = new LatencyHistogram();
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    h.recordUs(10 ** ((x / 2 ** 31) * 7));
  }
  return h;
}

function reportOf(i) {
  const latency = filled(i + 1, samples);
  // Connect times: one per connection (16 an agent), as a keep-alive run has.
  const opened = 16;
  const connect = filled(i + 1000, opened);
  return {
    schema: 'kalab.report/v1',
    target: 'http://10.0.0.1:8080/',
    engine: 'undici',
    config: {},
    durationMs: 10_000 + i,
    requests: { sent: samples, completed: samples, ok: samples, non2xx: 0, failed: 0 },
    connections: { opened, reusedRequests: samples - opened, maxOpen: opened, requestsPerConnection: samples / opened },
    errors: i % 2 ? { ECONNRESET: i } : {},
    latencyMs: { mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
    connectMs: { mean: 0, p50: 0, p99: 0, max: 0 },
    throughput: { rps: samples / 10 },
    host: { ephemeralRange: [32768, 60999], timeWaitPeak: i },
    findings: [],
    latencyHistogram: latency.encode(),
    connectHistogram: connect.encode(),
  };
}

const parts = Array.from({ length: agents }, (_, i) => ({
  name: `agent-${i + 1}`,
  host: `host-${i + 1}`,
  runId: `bench.${i + 1}`,
  outcome: 'complete',
  report: reportOf(i),
}));
const bytes = parts.reduce((s, p) => s + p.report.latencyHistogram.length + p.report.connectHistogram.length, 0);

mergeFanOut(parts); // warm-up (JIT, first decode)
const times = [];
const cpus = [];
let merged;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  merged = mergeFanOut(parts);
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  // CPU time too: on a shared machine wall time includes waiting for a core.
  cpus.push((c.user + c.system) / 1000);
}
cpus.sort((a, b) => a - b);
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const worst = times.at(-1);
const exact =
  merged.requests.ok === agents * samples &&
  LatencyHistogram.decode(merged.latencyHistogram).count === agents * samples;

console.log(
  `merge of ${agents} agents' reports, ${samples.toLocaleString('en')} latencies each (${(bytes / 1024).toFixed(0)} KiB of encoded histograms)`,
);
console.log('| runs | median ms | worst ms | median CPU ms | budget ms | exact |');
console.log('|---:|---:|---:|---:|---:|:---|');
console.log(
  `| ${runs} | ${median.toFixed(1)} | ${worst.toFixed(1)} | ${cpus[Math.floor(cpus.length / 2)].toFixed(1)} | 50 | ${exact ? 'yes' : 'NO'} |`,
);
