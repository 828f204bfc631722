#!/usr/bin/env node
// kalab loadgen against wrk, autocannon and hey, on nginx (one worker) over loopback.
// Not a test: it prints a table of ratios and never fails on a noisy number.
//
//   node bench/loadgen-bench.mjs [--rounds 3] [--duration 5] [--connections 50] [--cpu 1] [--nginx-cpu 0]
//
// Every tool runs pinned to the same CPU (taskset -c CPU) with the same connections, and
// the tools alternate within each round so that noise from other processes on the machine
// (this one is shared) spreads over all of them. The table shows the median of the rounds.
// kalab runs twice with keep-alive: the default engine (undici) and --engine net.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const KALAB = join(here, '..', 'apps', 'cli', 'bin', 'kalab.js');
const AUTOCANNON = join(here, 'node_modules', 'autocannon', 'autocannon.js');

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

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
for (const tool of ['nginx', 'wrk', 'hey', 'taskset']) {
  if (!which(tool)) {
    console.error(`bench: ${tool} is not installed (apt-get install -y nginx-light wrk hey util-linux)`);
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

async function startNginx() {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-bench-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const conf = `worker_processes 1;
daemon off;
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port} backlog=4096; location / { return 200 "Hello world"; } }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('taskset', ['-c', args['nginx-cpu'], 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('sh', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { shell: false }).status === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/`,
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

const runs = {
  'kalab keep-alive': (url) => {
    const r = JSON.parse(
      pinned(process.execPath, [KALAB, 'loadgen', url, '-c', String(C), '-d', `${D}s`, '-w', '1', '--json'])
        .trim()
        .split('\n')
        .at(-1),
    );
    return r.requests.completed / (r.durationMs / 1000);
  },
  'kalab --engine net keep-alive': (url) => {
    const r = JSON.parse(
      pinned(process.execPath, [
        KALAB,
        'loadgen',
        url,
        '-c',
        String(C),
        '-d',
        `${D}s`,
        '-w',
        '1',
        '--engine',
        'net',
        '--json',
      ])
        .trim()
        .split('\n')
        .at(-1),
    );
    return r.requests.completed / (r.durationMs / 1000);
  },
  'autocannon keep-alive': (url) => {
    const r = JSON.parse(pinned(process.execPath, [AUTOCANNON, '-c', String(C), '-d', String(D), '--json', url]));
    return r.requests.total / r.duration;
  },
  'wrk keep-alive': (url) => {
    const out = pinned('wrk', ['-t1', '-c', String(C), '-d', `${D}s`, url]);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  },
  'kalab no-keep-alive': (url) => {
    const r = JSON.parse(
      pinned(process.execPath, [
        KALAB,
        'loadgen',
        url,
        '-c',
        String(C),
        '-d',
        `${D}s`,
        '-w',
        '1',
        '--no-keepalive',
        '--json',
      ])
        .trim()
        .split('\n')
        .at(-1),
    );
    return r.connections.opened / (r.durationMs / 1000);
  },
  'kalab no-keep-alive, server closes': (url) => {
    const r = JSON.parse(
      pinned(process.execPath, [
        KALAB,
        'loadgen',
        url,
        '-c',
        String(C),
        '-d',
        `${D}s`,
        '-w',
        '1',
        '--no-keepalive',
        '--close-by',
        'server',
        '--json',
      ])
        .trim()
        .split('\n')
        .at(-1),
    );
    return r.connections.opened / (r.durationMs / 1000);
  },
  'hey no-keep-alive': (url) => {
    const out = pinned('hey', ['-z', `${D}s`, '-c', String(C), '-disable-keepalive', url]);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  },
};

const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const nginx = await startNginx();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of Object.entries(runs)) {
      const v = fn(nginx.url);
      results[name].push(v);
      console.error(`round ${round}/${ROUNDS}  ${name.padEnd(36)} ${Math.round(v).toLocaleString('en-US')}/s`);
      if (name.includes('no-keep-alive')) await settle();
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
/** Per-round ratios (the tools of one round ran back to back), then their median. */
const ratio = (a, b) => median(results[a].map((v, i) => v / results[b][i]));
const rows = [
  [
    'keep-alive req/s',
    'kalab (undici) / autocannon',
    m['kalab keep-alive'],
    m['autocannon keep-alive'],
    ratio('kalab keep-alive', 'autocannon keep-alive'),
    1.0,
  ],
  [
    'keep-alive req/s',
    'kalab (undici) / wrk',
    m['kalab keep-alive'],
    m['wrk keep-alive'],
    ratio('kalab keep-alive', 'wrk keep-alive'),
    0.6,
  ],
  [
    'keep-alive req/s',
    'kalab --engine net / autocannon',
    m['kalab --engine net keep-alive'],
    m['autocannon keep-alive'],
    ratio('kalab --engine net keep-alive', 'autocannon keep-alive'),
    1.0,
  ],
  [
    'keep-alive req/s',
    'kalab --engine net / wrk',
    m['kalab --engine net keep-alive'],
    m['wrk keep-alive'],
    ratio('kalab --engine net keep-alive', 'wrk keep-alive'),
    0.6,
  ],
  [
    'no-keep-alive conn/s',
    'kalab / hey',
    m['kalab no-keep-alive'],
    m['hey no-keep-alive'],
    ratio('kalab no-keep-alive', 'hey no-keep-alive'),
    1.0,
  ],
  [
    'no-keep-alive conn/s',
    'kalab --close-by server / hey',
    m['kalab no-keep-alive, server closes'],
    m['hey no-keep-alive'],
    ratio('kalab no-keep-alive, server closes', 'hey no-keep-alive'),
    1.0,
  ],
];
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}), every client on CPU ${args.cpu}, ${C} connections, ${D} s x ${ROUNDS} rounds (median), kalab -w 1\n`,
);
console.log('| metric | pair | kalab | peer | ratio | target |');
console.log('|---|---|---:|---:|---:|---:|');
for (const [metric, pair, a, b, r, target] of rows) {
  console.log(
    `| ${metric} | ${pair} | ${fmt(a)} | ${fmt(b)} | ${r.toFixed(2)} | >= ${target.toFixed(1)} ${r >= target ? 'met' : 'not met'} |`,
  );
}
