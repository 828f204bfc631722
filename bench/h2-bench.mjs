#!/usr/bin/env node
// kalab loadgen --engine h2 against h2load (nghttp2), on nginx (one worker) over loopback: h2c
// (prior knowledge) and h2 over TLS (ALPN). Not a test: it prints a table of ratios and never
// fails on a noisy number.
//
//   node bench/h2-bench.mjs [--rounds 5] [--duration 5] [--streams 100] [--cpu 1] [--nginx-cpu 0] [--kalab PATH]
//
// The pair: kalab --engine h2 -c 1 --streams 100 -w 1 / h2load -c 1 -m 100 -t 1, target >= 0.5,
// over h2c and over TLS. nginx runs one worker on --nginx-cpu, every client on --cpu (taskset),
// the tools alternate within each round (the machine may be shared) and the table shows the
// median of the per-round ratios. Beside req/s it prints each client's CPU time per request
// (user + sys of the client process, from the shell's `times`): on a loaded machine that is the
// steadier number. kalab's start-up and teardown (Node, the CLI's modules, the worker thread:
// measured each round as a `-n 1` run, 0.3 s quiet, over 1 s on a loaded 2-core machine) is
// taken out of its CPU per request and printed on its own.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCertificate } from '@kalab/server';
import { requireTools, startNginx } from './lib/peers.mjs';
import { emitRows, loadAverage, median } from './lib/rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    streams: { type: 'string', default: '100' },
    cpu: { type: 'string', default: '1' },
    'nginx-cpu': { type: 'string', default: '0' },
    /** Another build's bin/kalab.js (an A/B against a branch). */
    kalab: { type: 'string', default: join(here, '..', 'apps', 'cli', 'bin', 'kalab.js') },
  },
});
const ROUNDS = Number(args.rounds);
const D = Number(args.duration);
const M = Number(args.streams);
const KALAB = resolve(args.kalab);

requireTools(['nginx', 'h2load', 'taskset', 'bash']);

/** Runs a client pinned on --cpu: its stdout and CPU seconds (user + sys of the children bash waited for, from `times`). */
function pinned(cmd, argv) {
  const quoted = [cmd, ...argv].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `taskset -c ${args.cpu} ${quoted}; times >&2`], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const lines = r.stderr.trim().split('\n');
  const secs = (t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, sys] = lines.at(-1).trim().split(/\s+/);
  return { out: r.stdout, cpuS: secs(user) + secs(sys) };
}

const kalabRun = (url, bound) => {
  const { out, cpuS } = pinned(process.execPath, [
    KALAB,
    'loadgen',
    url,
    '--engine',
    'h2',
    '-c',
    '1',
    '--streams',
    String(M),
    '-w',
    '1',
    ...bound,
    ...(url.startsWith('https:') ? ['-k'] : []),
    '--json',
  ]);
  const r = JSON.parse(out.trim().split('\n').at(-1));
  if (r.connections.opened !== 1) throw new Error(`kalab opened ${r.connections.opened} connections, not 1`);
  return { r, cpuS };
};

/** kalab's fixed cost (start-up, worker, teardown): a run of one request. */
let startupS = 0;
const startups = [];
const kalab = (url) => {
  const { r, cpuS } = kalabRun(url, ['-d', `${D}s`]);
  return {
    rps: r.requests.completed / (r.durationMs / 1000),
    usPerReq: (Math.max(0, cpuS - startupS) * 1e6) / r.requests.completed,
  };
};

const h2load = (url) => {
  const { out, cpuS } = pinned('h2load', ['-D', String(D), '-c', '1', '-m', String(M), '-t', '1', url]);
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)[1]);
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(out)[1]);
  return { rps, usPerReq: (cpuS * 1e6) / done };
};

const runs = {
  'kalab h2c': (n) => kalab(n.h2c),
  'h2load h2c': (n) => h2load(n.h2c),
  'kalab h2 TLS': (n) => kalab(n.tls),
  'h2load h2 TLS': (n) => h2load(n.tls),
};

const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const server = await startNginx({
  cpus: args['nginx-cpu'],
  listen: ['h2c', 'https'],
  cert: await generateCertificate(),
});
const nginx = { h2c: server.urls.h2c, tls: server.urls.https, stop: () => server.stop() };
const load = loadAverage;
const loadBefore = load();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    startupS = kalabRun(nginx.h2c, ['-n', '1']).cpuS;
    startups.push(startupS);
    for (const [name, fn] of Object.entries(runs)) {
      const v = fn(nginx);
      results[name].push(v);
      console.error(
        `round ${round}/${ROUNDS}  ${name.padEnd(16)} ${Math.round(v.rps).toLocaleString('en-US').padStart(8)} req/s  ${v.usPerReq.toFixed(1).padStart(6)} µs CPU/req`,
      );
    }
  }
} finally {
  await nginx.stop();
}

const fmt = (v) => Math.round(v).toLocaleString('en-US');
const med = (k, f) => median(results[k].map((r) => r[f]));
const ratio = (a, b, f, inverse = false) =>
  median(results[a].map((r, i) => (inverse ? results[b][i][f] / r[f] : r[f] / results[b][i][f])));
const rows = [
  ['h2c (prior knowledge)', 'kalab h2c', 'h2load h2c'],
  ['h2 over TLS (ALPN)', 'kalab h2 TLS', 'h2load h2 TLS'],
];
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}), clients on CPU ${args.cpu}: kalab --engine h2 -c 1 --streams ${M} -w 1 vs h2load -c 1 -m ${M} -t 1, ${D} s x ${ROUNDS} rounds (median of per-round ratios); kalab start-up + teardown ${median(startups).toFixed(2)} s CPU (a -n 1 run, taken out of its CPU/req); load average ${loadBefore} before, ${load()} after\n`,
);
console.log(
  '| target | kalab req/s | h2load req/s | ratio | kalab µs CPU/req | h2load µs CPU/req | CPU ratio (h2load/kalab) | target |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, a, b] of rows) {
  const r = ratio(a, b, 'rps');
  console.log(
    `| ${name} | ${fmt(med(a, 'rps'))} | ${fmt(med(b, 'rps'))} | ${r.toFixed(2)} | ${med(a, 'usPerReq').toFixed(1)} | ${med(b, 'usPerReq').toFixed(1)} | ${ratio(a, b, 'usPerReq', true).toFixed(2)} | >= 0.5 ${r >= 0.5 ? 'met' : 'not met'} |`,
  );
}
emitRows(
  'h2',
  `nginx (1 worker, CPU ${args['nginx-cpu']}), clients on CPU ${args.cpu}, kalab --engine h2 -c 1 --streams ${M} -w 1 vs h2load -c 1 -m ${M} -t 1, ${D} s x ${ROUNDS} rounds; load average ${loadBefore} before, ${load()} after`,
  rows.map(([name, a, b]) => ({
    metric: `HTTP/2 req/s, ${name}`,
    pair: `kalab --engine h2 / h2load -c 1 -m ${M}`,
    kalab: med(a, 'rps'),
    peer: med(b, 'rps'),
    unit: 'ratio',
    value: ratio(a, b, 'rps'),
    target: 0.5,
  })),
);
