#!/usr/bin/env node
// kalab loadgen over TLS against wrk, hey and h2load, on nginx (one worker, TLS 1.3, HTTP/2 by ALPN) over loopback.
// Not a test: it prints a table of ratios and never fails on a noisy number.
//
//   node bench/tls-bench.mjs [--rounds 5] [--duration 3] [--connections 50] [--cpu 1] [--nginx-cpu 0]
//
// Three pairs, as issue 12 sets them:
//   HTTPS keep-alive req/s:  kalab (default engine, undici) / wrk            target >= 0.7
//   HTTPS churn conn/s:      kalab --no-keepalive --tls-resume off / hey -disable-keepalive
//                            (Go's Transport without a ClientSessionCache: a full handshake each) target >= 1.0
//   h2 over TLS req/s:       kalab --engine h2 / h2load (one connection, -c streams)           target >= 0.5
// Same CPU pinning as bench/loadgen-bench.mjs: every client on --cpu, nginx on --nginx-cpu; the
// tools alternate within each round (the machine is shared) and the table shows per-round
// ratios' medians.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCertificate } from '@kalab/server';

const here = dirname(fileURLToPath(import.meta.url));
const KALAB = join(here, '..', 'apps', 'cli', 'bin', 'kalab.js');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    cpu: { type: 'string', default: '1' },
    'nginx-cpu': { type: 'string', default: '0' },
  },
});
const ROUNDS = Number(args.rounds);
const D = Number(args.duration);
const C = Number(args.connections);

const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
for (const tool of ['nginx', 'wrk', 'hey', 'h2load', 'taskset']) {
  if (!which(tool)) {
    console.error(`bench: ${tool} is not installed (apt-get install -y nginx-light wrk hey nghttp2-client util-linux)`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** nginx, one worker, TLS 1.2/1.3 with HTTP/2 by ALPN, session tickets and a session cache (its defaults plus a cache). */
async function startNginx() {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-tls-bench-'));
  mkdirSync(join(dir, 'tmp'));
  const cert = await generateCertificate();
  writeFileSync(join(dir, 'cert.pem'), cert.cert);
  writeFileSync(join(dir, 'key.pem'), cert.key);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 1024;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:bench:10m;
  server {
    listen 127.0.0.1:${port} ssl http2 backlog=4096;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / { return 200 "Hello world"; }
  }
}
`,
  );
  const child = spawn('taskset', ['-c', args['nginx-cpu'], 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('sh', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `https://127.0.0.1:${port}/`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pinned = (cmd, argv) =>
  execFileSync('taskset', ['-c', args.cpu, cmd, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
/** Lets TIME_WAIT from a churn run not weigh on the next one. */
const settle = () => new Promise((r) => setTimeout(r, 1000));
const kalab = (url, extra) =>
  JSON.parse(
    pinned(process.execPath, [
      KALAB,
      'loadgen',
      url,
      '-k',
      '-c',
      String(C),
      '-d',
      `${D}s`,
      '-w',
      '1',
      ...extra,
      '--json',
    ])
      .trim()
      .split('\n')
      .at(-1),
  );
const perSec = (out) => Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);

const runs = {
  'kalab https keep-alive': (url) => {
    const r = kalab(url, []);
    return r.requests.completed / (r.durationMs / 1000);
  },
  'wrk https keep-alive': (url) => perSec(pinned('wrk', ['-t1', '-c', String(C), '-d', `${D}s`, url])),
  'kalab https churn, no resumption': (url) => {
    const r = kalab(url, ['--no-keepalive', '--tls-resume', 'off']);
    if (r.tls.resumed !== 0) throw new Error(`kalab resumed ${r.tls.resumed} sessions with --tls-resume off`);
    return r.tls.handshakes / (r.durationMs / 1000);
  },
  // hey skips certificate checks and, like Go's http.Transport without a ClientSessionCache, never resumes.
  'hey https -disable-keepalive': (url) =>
    perSec(pinned('hey', ['-z', `${D}s`, '-c', String(C), '-disable-keepalive', url])),
  'kalab h2 over TLS': (url) => {
    const r = kalab(url, ['--engine', 'h2']);
    return r.requests.completed / (r.durationMs / 1000);
  },
  'h2load (1 connection)': (url) => {
    const out = pinned('h2load', ['-D', String(D), '-c', '1', '-m', String(C), '-t', '1', url]);
    return Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)[1]);
  },
};

const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const nginx = await startNginx();
const load = () => spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ');
const loadBefore = load();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of Object.entries(runs)) {
      const v = fn(nginx.url);
      results[name].push(v);
      console.error(`round ${round}/${ROUNDS}  ${name.padEnd(36)} ${Math.round(v).toLocaleString('en-US')}/s`);
      if (name.includes('churn') || name.includes('disable-keepalive')) await settle();
    }
  }
} finally {
  await nginx.stop();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v) => Math.round(v).toLocaleString('en-US');
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const ratio = (a, b) => median(results[a].map((v, i) => v / results[b][i]));
const rows = [
  ['HTTPS keep-alive req/s', 'kalab (undici) / wrk', 'kalab https keep-alive', 'wrk https keep-alive', 0.7],
  [
    'HTTPS churn handshakes/s',
    'kalab --tls-resume off / hey -disable-keepalive',
    'kalab https churn, no resumption',
    'hey https -disable-keepalive',
    1.0,
  ],
  ['h2 over TLS req/s', 'kalab --engine h2 / h2load', 'kalab h2 over TLS', 'h2load (1 connection)', 0.5],
];
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}, TLS 1.3, ECDSA P-256), every client on CPU ${args.cpu}, ${C} connections (h2: ${C} streams on 1), ${D} s x ${ROUNDS} rounds (median of per-round ratios), kalab -w 1; load average ${loadBefore} before, ${load()} after\n`,
);
console.log('| metric | pair | kalab | peer | ratio | target |');
console.log('|---|---|---:|---:|---:|---:|');
for (const [metric, pair, a, b, target] of rows) {
  const r = ratio(a, b);
  console.log(
    `| ${metric} | ${pair} | ${fmt(m[a])} | ${fmt(m[b])} | ${r.toFixed(2)} | >= ${target.toFixed(1)} ${r >= target ? 'met' : 'not met'} |`,
  );
}
