#!/usr/bin/env node
// kalab loadgen against wrk, autocannon and hey, on nginx (one worker) over loopback.
// Not a test: it prints a table of ratios and never fails on a noisy number.
//
//   node bench/loadgen-bench.mjs [--rounds 3] [--duration 5] [--connections 50] [--cpu 1] [--nginx-cpu 0]
//
// Every tool runs pinned to the same CPU (taskset -c CPU) with the same connections, and
// the tools alternate within each round so that noise from other processes on the machine
// (this one is shared) spreads over all of them. The table shows the median of the rounds.
// kalab runs twice with keep-alive: the default engine (net; the table names the engine the
// report named) and --engine undici; bench/bare-net-loop.mjs is Node's floor (raw sockets, no
// parser, no stats) for the default engine to be compared with. Each run's CPU time (user + sys, from /usr/bin/time) per
// request is printed beside the ratios: on a shared machine it is steadier than req/s.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasCommand, requireTools, settle, startNginx } from './lib/peers.mjs';
import { emitRows, loadAverage, median } from './lib/rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KALAB = join(here, '..', 'apps', 'cli', 'bin', 'kalab.js');
const AUTOCANNON = join(here, 'node_modules', 'autocannon', 'autocannon.js');
const BARE = join(here, 'bare-net-loop.mjs');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    cpu: { type: 'string', default: '1' },
    'nginx-cpu': { type: 'string', default: '0' },
  },
});
const ROUNDS = Number(args.rounds);
const D = Number(args.duration);
const C = Number(args.connections);

requireTools(['nginx', 'wrk', 'hey', 'taskset']);

const HAS_TIME = hasCommand('/usr/bin/time');
/**
 * Runs `cmd argv` pinned to --cpu; returns its stdout and the CPU seconds (user + sys, every
 * thread) it used, from /usr/bin/time (null where it is missing).
 */
function pinned(cmd, argv) {
  const timed = HAS_TIME ? ['/usr/bin/time', '-f', 'BENCH_CPU %U %S', cmd] : [cmd];
  const r = spawnSync('taskset', ['-c', args.cpu, ...timed, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const t = /BENCH_CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { out: r.stdout, cpu: t ? Number(t[1]) + Number(t[2]) : null };
}

/**
 * `kalab loadgen URL -c C -d D -w 1 --json ...extra`: requests (or connections, with
 * `perConnection`) per second, CPU µs per request, and the engine the report names.
 */
function kalab(url, extra, perConnection = false) {
  const { out, cpu } = pinned(process.execPath, [
    KALAB,
    'loadgen',
    url,
    '-c',
    String(C),
    '-d',
    `${D}s`,
    '-w',
    '1',
    '--json',
    ...extra,
  ]);
  const r = JSON.parse(out.trim().split('\n').at(-1));
  const n = perConnection ? r.connections.opened : r.requests.completed;
  return { rate: n / (r.durationMs / 1000), cpuUs: cpu === null ? null : (cpu * 1e6) / n, engine: r.engine };
}

/** Each runner returns { rate, cpuUs, engine? }: its rate (req/s or conn/s) and CPU µs per request (or connection). */
const runs = {
  'kalab keep-alive (default engine)': (url) => kalab(url, []),
  'kalab --engine undici keep-alive': (url) => kalab(url, ['--engine', 'undici']),
  'bare node:net loop keep-alive': (url) => {
    const { out, cpu } = pinned(process.execPath, [BARE, url, '--connections', String(C), '--duration', String(D)]);
    const r = JSON.parse(out);
    return { rate: r.requests / (r.durationMs / 1000), cpuUs: cpu === null ? null : (cpu * 1e6) / r.requests };
  },
  'autocannon keep-alive': (url) => {
    const { out, cpu } = pinned(process.execPath, [AUTOCANNON, '-c', String(C), '-d', String(D), '--json', url]);
    const r = JSON.parse(out);
    return { rate: r.requests.total / r.duration, cpuUs: cpu === null ? null : (cpu * 1e6) / r.requests.total };
  },
  'wrk keep-alive': (url) => {
    const { out, cpu } = pinned('wrk', ['-t1', '-c', String(C), '-d', `${D}s`, url]);
    const n = Number(/(\d+) requests in/.exec(out)[1]);
    return { rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), cpuUs: cpu === null ? null : (cpu * 1e6) / n };
  },
  'kalab no-keep-alive': (url) => kalab(url, ['--no-keepalive'], true),
  'kalab no-keep-alive, server closes': (url) => kalab(url, ['--no-keepalive', '--close-by', 'server'], true),
  'hey no-keep-alive': (url) => {
    const { out, cpu } = pinned('hey', ['-z', `${D}s`, '-c', String(C), '-disable-keepalive', url]);
    const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
    return { rate, cpuUs: cpu === null ? null : (cpu * 1e6) / (rate * D) };
  },
};

const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const engines = {};
const nginx = await startNginx({ cpus: args['nginx-cpu'] });
nginx.url = nginx.urls.http;
const loadBefore = loadAverage();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of Object.entries(runs)) {
      const v = fn(nginx.url);
      results[name].push(v);
      if (v.engine) engines[name] = v.engine;
      const cpu = v.cpuUs === null ? '' : `  ${v.cpuUs.toFixed(2)} µs CPU each`;
      console.error(
        `round ${round}/${ROUNDS}  ${name.padEnd(36)} ${Math.round(v.rate).toLocaleString('en-US')}/s${cpu}${v.engine ? `  (engine ${v.engine})` : ''}`,
      );
      if (name.includes('no-keep-alive')) await settle();
    }
  }
} finally {
  await nginx.stop();
}

const fmt = (v) => Math.round(v).toLocaleString('en-US');
const rate = (k) => median(results[k].map((r) => r.rate));
const cpuUs = (k) => (results[k].every((r) => r.cpuUs !== null) ? median(results[k].map((r) => r.cpuUs)) : null);
/** Per-round ratios (the tools of one round ran back to back), then their median. */
const ratio = (a, b) => median(results[a].map((v, i) => v.rate / results[b][i].rate));
const DEF = 'kalab keep-alive (default engine)';
const UND = 'kalab --engine undici keep-alive';
const def = `kalab (default: ${engines[DEF] ?? '?'})`;
// [metric, pair, kalab run, peer run, target ratio or null (shown for information)]
const rows = [
  ['keep-alive req/s', `${def} / wrk`, DEF, 'wrk keep-alive', 0.8],
  ['keep-alive req/s', `${def} / autocannon`, DEF, 'autocannon keep-alive', 1.5],
  ['keep-alive req/s', `${def} / a bare node:net loop`, DEF, 'bare node:net loop keep-alive', null],
  ['keep-alive req/s', 'kalab --engine undici / wrk', UND, 'wrk keep-alive', null],
  ['keep-alive req/s', 'kalab --engine undici / autocannon', UND, 'autocannon keep-alive', null],
  ['no-keep-alive conn/s', 'kalab / hey', 'kalab no-keep-alive', 'hey no-keep-alive', 1.0],
  [
    'no-keep-alive conn/s',
    'kalab --close-by server / hey',
    'kalab no-keep-alive, server closes',
    'hey no-keep-alive',
    1.0,
  ],
];
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}), every client on CPU ${args.cpu}, ${C} connections, ${D} s x ${ROUNDS} rounds (median), kalab -w 1\n`,
);
console.log('| metric | pair | kalab | peer | ratio | target | CPU µs each: kalab / peer |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const [metric, pair, a, b, target] of rows) {
  const r = ratio(a, b);
  const ca = cpuUs(a);
  const cb = cpuUs(b);
  const cpu = ca === null || cb === null ? 'n/a' : `${ca.toFixed(2)} / ${cb.toFixed(2)}`;
  const goal = target === null ? 'info' : `>= ${target.toFixed(1)} ${r >= target ? 'met' : 'not met'}`;
  console.log(`| ${metric} | ${pair} | ${fmt(rate(a))} | ${fmt(rate(b))} | ${r.toFixed(2)} | ${goal} | ${cpu} |`);
}
console.log(
  '\nCPU µs each: user + sys of the whole process (start-up included) per request or connection, from /usr/bin/time.',
);
emitRows(
  'loadgen',
  `nginx (1 worker, CPU ${args['nginx-cpu']}), every client on CPU ${args.cpu}, -c ${C} -w 1, ${D} s x ${ROUNDS} rounds; load average ${loadBefore} before, ${loadAverage()} after`,
  rows
    .filter((r) => r[4] !== null)
    .map(([metric, pair, a, b, target]) => ({
      metric,
      pair,
      kalab: rate(a),
      peer: rate(b),
      unit: 'ratio',
      value: ratio(a, b),
      target,
    })),
);
