#!/usr/bin/env node
// Worker scaling: kalab loadgen -w N against wrk -t N, same connections, same CPUs, on nginx.
// Not a test: it prints a table and never fails on a noisy number.
//
//   node bench/scaling-bench.mjs [--workers 1,2,4,8] [--connections 256] [--duration 5] [--rounds 3]
//                                [--nginx-cpus 0-7] [--client-cpus 8-15] [--nginx-workers 8] [--engine net]
//
// Meant for a many-core machine: nginx gets half the cores, the clients the other half, and
// each -w N / -t N run may use all the client cores. On a 2-core machine the defaults shrink to
// nginx on CPU 0, clients on CPU 1 — the rows past -w 1 then show the cost of extra workers on
// one core, not scaling.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { kalabLoadgen, perSec, pinned, reportRps, requireTools, startNginx } from './lib/peers.mjs';
import { emitRows, loadAverage, median } from './lib/rows.mjs';

const n = cpus().length;
const half = Math.max(1, Math.floor(n / 2));
const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4,8' },
    connections: { type: 'string', default: '256' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    'nginx-cpus': { type: 'string', default: n >= 4 ? `0-${half - 1}` : '0' },
    'client-cpus': { type: 'string', default: n >= 4 ? `${half}-${n - 1}` : String(n - 1) },
    'nginx-workers': { type: 'string', default: String(half) },
    engine: { type: 'string' },
  },
});
requireTools(['nginx', 'wrk', 'taskset']);
const W = args.workers.split(',').map(Number);
const C = args.connections;
const D = args.duration;
const CPU = args['client-cpus'];

const nginx = await startNginx({ cpus: args['nginx-cpus'], workers: Number(args['nginx-workers']) });
const url = nginx.urls.http;
const engine = args.engine ? ['--engine', args.engine] : [];
const kalab = Object.fromEntries(W.map((w) => [w, []]));
const wrk = Object.fromEntries(W.map((w) => [w, []]));
const loadBefore = loadAverage();
try {
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const w of W) {
      const r = kalabLoadgen(CPU, url, ['-c', C, '-d', `${D}s`, '-w', String(w), ...engine]);
      kalab[w].push(reportRps(r));
      wrk[w].push(perSec(pinned(CPU, 'wrk', [`-t${w}`, '-c', C, '-d', `${D}s`, url])));
      console.error(
        `round ${round}: -w ${w} kalab ${Math.round(kalab[w].at(-1))}/s, wrk -t ${w} ${Math.round(wrk[w].at(-1))}/s`,
      );
    }
  }
} finally {
  await nginx.stop();
}

const fmt = (v) => Math.round(v).toLocaleString('en-US');
const context = `${n} CPUs; nginx ${args['nginx-workers']} workers on CPUs ${args['nginx-cpus']}, clients on CPUs ${CPU}; -c ${C}, ${D} s x ${args.rounds} rounds; load average ${loadBefore} before, ${loadAverage()} after`;
console.log(`\n${context}\n`);
console.log('| workers | kalab -w N req/s | wrk -t N req/s | kalab / wrk | kalab vs its -w 1 |');
console.log('|---:|---:|---:|---:|---:|');
const base = median(kalab[W[0]]);
for (const w of W) {
  const k = median(kalab[w]);
  const p = median(wrk[w]);
  console.log(`| ${w} | ${fmt(k)} | ${fmt(p)} | ${(k / p).toFixed(2)} | ${(k / base).toFixed(2)}x |`);
}
emitRows(
  'scaling',
  context,
  W.map((w) => ({
    metric: `keep-alive, -w ${w}`,
    pair: `kalab -w ${w} / wrk -t ${w}`,
    kalab: median(kalab[w]),
    peer: median(wrk[w]),
    unit: 'ratio',
    value: median(kalab[w].map((v, i) => v / wrk[w][i])),
    target: 0.8,
  })),
);
