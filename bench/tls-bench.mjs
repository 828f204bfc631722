#!/usr/bin/env node
// kalab loadgen over TLS against wrk and hey, on nginx (one worker, TLS 1.3, HTTP/2 by ALPN) over loopback,
// and connection churn (no keep-alive) over plain HTTP and HTTPS against hey -disable-keepalive.
// Not a test: it prints a table of ratios and never fails on a noisy number.
//
//   node bench/tls-bench.mjs [--rounds 5] [--duration 3] [--connections 50] [--cpu 1] [--nginx-cpu 0] [--only churn]
//
// The pairs, as issues 12 and 15 set them:
//   HTTPS keep-alive req/s:  kalab (default engine) / wrk                                       target >= 0.7
//   HTTPS churn conn/s:      kalab --no-keepalive --tls-resume off / hey -disable-keepalive
//                            (Go's Transport without a ClientSessionCache: a full handshake each) target >= 1.0
//   (h2 over TLS against h2load: bench/h2-bench.mjs)
//   churn conn/s (plain):    kalab --no-keepalive / hey -disable-keepalive                      target >= 1.0
// Churn runs twice: the client closing first (kalab's default: TIME_WAIT on the client) and,
// the setup equal to hey's, the server closing first (--close-by server: hey, like Go's
// DisableKeepAlives, sends Connection: close and nginx closes).
// Beside each rate: the client's CPU µs per request or connection (user + sys from /usr/bin/time;
// kalab's start-up, measured each round with -n 1, taken off) and nginx's (its worker's
// /proc/PID/stat over the run). Whichever side's CPU per connection times the rate fills its
// core is the bottleneck; the note under the table says which, per pair.
// Same CPU pinning as bench/loadgen-bench.mjs: every client on --cpu, nginx on --nginx-cpu; the
// tools alternate within each round (the machine is shared) and the table shows per-round
// ratios' medians.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCertificate } from '@kalab/server';
import { requireTools, settle, startNginx } from './lib/peers.mjs';
import { emitRows, loadAverage, median } from './lib/rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KALAB = join(here, '..', 'apps', 'cli', 'bin', 'kalab.js');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    cpu: { type: 'string', default: '1' },
    'nginx-cpu': { type: 'string', default: '0' },
    /** `churn`: only the churn pairs (plain and HTTPS); `tls`: only the HTTPS pairs. */
    only: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const D = Number(args.duration);
const C = Number(args.connections);

requireTools(['nginx', 'wrk', 'hey', 'taskset']);

/** Runs `cmd argv` pinned to --cpu; its stdout and CPU seconds (user + sys of it and its threads and children). */
function pinned(cmd, argv) {
  const r = spawnSync('taskset', ['-c', args.cpu, '/usr/bin/time', '-f', 'BENCH_CPU %U %S', cmd, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const t = /BENCH_CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { out: r.stdout, cpu: Number(t[1]) + Number(t[2]) };
}
/** Lets TIME_WAIT from a churn run not weigh on the next one. */
const kalabArgs = (url, extra, bound) => [
  KALAB,
  'loadgen',
  url,
  ...(url.startsWith('https:') ? ['-k'] : []),
  '-c',
  String(C),
  ...bound,
  '-w',
  '1',
  ...extra,
  '--json',
];
/** kalab's CPU seconds to start, run one request and report, with the same flags (taken off each run's CPU). */
const startupCpu = new Map();
function kalab(url, extra, count) {
  const key = `${url} ${extra.join(' ')}`;
  if (!startupCpu.has(key)) startupCpu.set(key, pinned(process.execPath, kalabArgs(url, extra, ['-n', '1'])).cpu);
  const before = nginxCpu();
  const { out, cpu } = pinned(process.execPath, kalabArgs(url, extra, ['-d', `${D}s`]));
  const nginx = nginxCpu() - before;
  const r = JSON.parse(out.trim().split('\n').at(-1));
  const n = count(r);
  const loadS = r.durationMs / 1000;
  return { rate: n / loadS, n, cpu: Math.max(0, cpu - startupCpu.get(key)), nginx, loadS };
}
/** A peer's run: nginx's CPU over it, and its load time (the peer starts in milliseconds: its whole run). */
function peer(cmd, argv, parse) {
  const before = nginxCpu();
  const t0 = performance.now();
  const { out, cpu } = pinned(cmd, argv);
  const nginx = nginxCpu() - before;
  return { ...parse(out), cpu, nginx, loadS: (performance.now() - t0) / 1000 };
}
const perSec = (out) => Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
const heyResponses = (out) => Number(/\[200\]\s+(\d+) responses/.exec(out)?.[1] ?? 0);
const completed = (r) => r.requests.completed;
function noResumption(r) {
  if (r.tls.resumed !== 0) throw new Error(`kalab resumed ${r.tls.resumed} sessions with --tls-resume off`);
  return r.tls.handshakes;
}
function hey(url) {
  return peer('hey', ['-z', `${D}s`, '-c', String(C), '-disable-keepalive', url], (out) => ({
    rate: perSec(out),
    n: heyResponses(out),
  }));
}

/** Each runner: { rate, n (requests or connections), cpu (client CPU s) }; `plain` ones aim at nginx's HTTP port. */
const runs = {
  'kalab https keep-alive': { group: 'tls', fn: (u) => kalab(u.tls, [], completed) },
  'wrk https keep-alive': {
    group: 'tls',
    fn: (u) =>
      peer('wrk', ['-t1', '-c', String(C), '-d', `${D}s`, u.tls], (out) => ({
        rate: perSec(out),
        n: Number(/(\d+) requests in/.exec(out)[1]),
      })),
  },
  'kalab https churn, no resumption': {
    group: 'churn',
    churn: true,
    fn: (u) => kalab(u.tls, ['--no-keepalive', '--tls-resume', 'off'], noResumption),
  },
  'kalab https churn, server closes': {
    group: 'churn',
    churn: true,
    fn: (u) => kalab(u.tls, ['--no-keepalive', '--tls-resume', 'off', '--close-by', 'server'], noResumption),
  },
  // hey skips certificate checks and, like Go's http.Transport without a ClientSessionCache, never resumes.
  'hey https -disable-keepalive': { group: 'churn', churn: true, fn: (u) => hey(u.tls) },
  'kalab churn': {
    group: 'churn',
    churn: true,
    fn: (u) => kalab(u.plain, ['--no-keepalive'], (r) => r.connections.opened),
  },
  'kalab churn, server closes': {
    group: 'churn',
    churn: true,
    fn: (u) => kalab(u.plain, ['--no-keepalive', '--close-by', 'server'], (r) => r.connections.opened),
  },
  'hey -disable-keepalive': { group: 'churn', churn: true, fn: (u) => hey(u.plain) },
};
const selected = Object.entries(runs).filter(([, r]) => !args.only || args.only.split(',').includes(r.group));

const results = Object.fromEntries(selected.map(([k]) => [k, []]));
const nginx = await startNginx({
  cpus: args['nginx-cpu'],
  listen: ['https', 'http'],
  cert: await generateCertificate(),
});
const nginxCpu = () => nginx.workerCpuSeconds();
const urls = { tls: nginx.urls.https, plain: nginx.urls.http };
const load = loadAverage;
const loadBefore = load();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of selected) {
      const v = run.fn(urls);
      const row = {
        rate: v.rate,
        clientUs: (v.cpu * 1e6) / v.n,
        nginxUs: (v.nginx * 1e6) / v.n,
        // nginx's share of its core over the load (kalab's start-up and report left out).
        nginxBusy: v.nginx / v.loadS,
      };
      results[name].push(row);
      console.error(
        `round ${round}/${ROUNDS}  ${name.padEnd(36)} ${Math.round(v.rate).toLocaleString('en-US')}/s  client ${Math.round(row.clientUs)} µs  nginx ${Math.round(row.nginxUs)} µs per request/conn`,
      );
      if (run.churn) await settle();
    }
  }
} finally {
  await nginx.stop();
}

const fmt = (v) => Math.round(v).toLocaleString('en-US');
const med = (name, key) => median(results[name].map((x) => x[key]));
/** Per-round ratios of the rates (the tools of one round ran back to back), then their median. */
const ratio = (a, b) => median(results[a].map((v, i) => v.rate / results[b][i].rate));
const rows = [
  ['HTTPS keep-alive req/s', 'kalab (default engine) / wrk', 'kalab https keep-alive', 'wrk https keep-alive', 0.7],
  [
    'HTTPS churn handshakes/s',
    'kalab --tls-resume off / hey -disable-keepalive',
    'kalab https churn, no resumption',
    'hey https -disable-keepalive',
    1.0,
  ],
  [
    'HTTPS churn handshakes/s',
    'kalab --tls-resume off --close-by server / hey (both: the server closes)',
    'kalab https churn, server closes',
    'hey https -disable-keepalive',
    1.0,
  ],
  ['churn conn/s', 'kalab --no-keepalive / hey -disable-keepalive', 'kalab churn', 'hey -disable-keepalive', 1.0],
  [
    'churn conn/s',
    'kalab --no-keepalive --close-by server / hey (both: the server closes)',
    'kalab churn, server closes',
    'hey -disable-keepalive',
    1.0,
  ],
].filter(([, , a, b]) => results[a] && results[b]);
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}, TLS 1.3, ECDSA P-256), every client on CPU ${args.cpu}, ${C} connections, ${D} s x ${ROUNDS} rounds (median of per-round ratios), kalab -w 1; load average ${loadBefore} before, ${load()} after\n`,
);
console.log(
  '| metric | pair | kalab | peer | ratio | target | client CPU µs kalab / peer | nginx CPU µs kalab / peer |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const [metric, pair, a, b, target] of rows) {
  const r = ratio(a, b);
  console.log(
    `| ${metric} | ${pair} | ${fmt(med(a, 'rate'))} | ${fmt(med(b, 'rate'))} | ${r.toFixed(2)} | >= ${target.toFixed(1)} ${r >= target ? 'met' : 'not met'} | ${fmt(med(a, 'clientUs'))} / ${fmt(med(b, 'clientUs'))} | ${fmt(med(a, 'nginxUs'))} / ${fmt(med(b, 'nginxUs'))} |`,
  );
}
// Which side held each tool back: its client's CPU per request times its rate is the share of
// the client's core it used; nginx's busy share is measured. The fuller core is the bottleneck.
/** A core 80% busy or more holds the run back; when neither is, something else does (other processes on a shared machine, or a stall). */
function verdict(client, nginx) {
  if (client < 0.8 && nginx < 0.8) return 'neither core full: other processes (shared machine) or a stall';
  return client >= nginx ? 'the client' : 'nginx';
}
console.log('\nbottleneck (median share of one core: client = CPU/request x rate, nginx = measured):');
for (const name of Object.keys(results)) {
  const client = (med(name, 'clientUs') * med(name, 'rate')) / 1e6;
  const busy = med(name, 'nginxBusy');
  console.log(
    `  ${name.padEnd(36)} client ${(client * 100).toFixed(0)}%  nginx ${(busy * 100).toFixed(0)}%  -> ${verdict(client, busy)}`,
  );
}
emitRows(
  'tls',
  `nginx (1 worker, CPU ${args['nginx-cpu']}, TLS 1.3, ECDSA P-256), clients on CPU ${args.cpu}, -c ${C} -w 1, ${D} s x ${ROUNDS} rounds; load average ${loadBefore} before, ${load()} after`,
  rows.map(([metric, pair, a, b, target]) => ({
    metric,
    pair,
    kalab: med(a, 'rate'),
    peer: med(b, 'rate'),
    unit: 'ratio',
    value: ratio(a, b),
    target,
  })),
);
