#!/usr/bin/env node
// `kalab loadgen --engine undici -w 1` against a bare undici loop with the same options, on
// nginx (one worker) over loopback: what the lab's instrumentation costs.
//
//   pnpm build && node bench/undici-overhead.mjs [--rounds 5] [--duration 5] [--connections 50]
//                  [--pipelining 1] [--cpu 1] [--nginx-cpu 0] [--json]
//
// Target: "`--engine undici` >= 1.0x a bare undici loop with the same options
// (instrumentation costs nothing measurable)".
//
// The bare loop is the same undici (the copy @kalab/loadgen resolves) used the way the engine
// uses it, minus everything the lab adds: the same request (Host, User-Agent: kalab, Accept:
// */*), one Client per connection with the same pipelining,
// each keeping `pipelining` requests in flight through `client.dispatch` with a handler that
// only counts completions (no connect hook, no stats, no histograms, no driver, no worker
// thread). A second bare row uses `client.request()` + `body.dump()`, what most undici code
// looks like. Each runs as its own process pinned with `taskset -c CPU` (nginx on
// --nginx-cpu), the three alternate within each round, and the table shows the median of the
// rounds: requests/s (completed over the measured duration, start-up excluded) and the
// client's CPU time per request (user + sys of the whole process over its whole life, from
// the shell's `time`, less its start-up and teardown: the median CPU of 3 runs that send one
// request per slot). Not a test: it prints, never fails CI.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { emitRows } from './lib/rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KALAB = join(here, '..', 'apps', 'cli', 'bin', 'kalab.js');
const UNDICI = pathToFileURL(
  createRequire(join(here, '..', 'packages', 'loadgen', 'package.json')).resolve('undici'),
).href;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    cpu: { type: 'string', default: '1' },
    'nginx-cpu': { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds);
const D = Number(args.duration);
const C = Number(args.connections);
const P = Number(args.pipelining);

for (const tool of ['nginx', 'taskset']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench: ${tool} is not installed (apt-get install -y nginx-light util-linux)`);
    process.exit(2);
  }
}

// The bare loops: argv URL CONNECTIONS SECONDS PIPELINING MODE; prints one JSON line.
const BARE = `
import { Client } from ${JSON.stringify(UNDICI)};
const [url, c, seconds, pipelining, mode] = process.argv.slice(2);
const origin = new URL(url).origin;
const path = new URL(url).pathname;
const clients = Array.from({ length: Number(c) }, () => new Client(origin, { pipelining: Number(pipelining) }));
let completed = 0;
let failed = 0;
let stopping = false;
let inFlight = 0;
let finish;
const finished = new Promise((r) => { finish = r; });
// The request kalab sends by default, byte for byte (Host, User-Agent, Accept).
const opts = { origin, path, method: 'GET', headers: ['Host', new URL(url).host, 'User-Agent', 'kalab', 'Accept', '*/*'] };
class Handler {
  constructor(client) { this.client = client; }
  onConnect() {}
  onHeaders(status) { this.status = status; return true; }
  onData() { return true; }
  onComplete() { completed++; this.next(); }
  onError() { failed++; this.next(); }
  next() { inFlight--; if (stopping) { if (inFlight === 0) finish(); } else this.send(); }
  send() { inFlight++; this.client.dispatch(opts, this); }
}
async function loop(client) {
  while (!stopping) {
    inFlight++;
    try {
      const res = await client.request({ path, method: 'GET', headers: opts.headers });
      await res.body.dump();
      completed++;
    } catch {
      failed++;
    }
    inFlight--;
  }
  if (inFlight === 0) finish();
}
const t0 = performance.now();
for (const client of clients)
  for (let i = 0; i < Number(pipelining); i++) {
    if (mode === 'dispatch') new Handler(client).send();
    else void loop(client);
  }
setTimeout(() => { stopping = true; }, Number(seconds) * 1000);
await finished;
const ms = performance.now() - t0;
await Promise.all(clients.map((cl) => cl.destroy()));
console.log(JSON.stringify({ completed, failed, durationMs: ms, rps: completed / (ms / 1000) }));
`;

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
  writeFileSync(join(dir, 'bare.mjs'), BARE);
  const child = spawn('taskset', ['-c', args['nginx-cpu'], 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('sh', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { shell: false }).status === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    url: `http://127.0.0.1:${port}/`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a command pinned to --cpu; returns its stdout's last line and the process's user+sys seconds. */
function pinned(argv) {
  const quoted = argv.map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(' ');
  const out = execFileSync(
    'bash',
    ['-c', `TIMEFORMAT='%3U %3S'; { time taskset -c ${args.cpu} ${quoted} 2>/dev/null ; } 2>&1`],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = out.trim().split('\n');
  const [user, sys] = lines.at(-1).split(' ').map(Number);
  return { line: lines.at(-2), cpuS: user + sys };
}

const settle = () => new Promise((r) => setTimeout(r, 500));

const nginx = await startNginx();
// Each client, given a duration in seconds (0: start, send one round of requests, stop: its start-up cost).
const cases = {
  'kalab loadgen --engine undici -w 1': (d) => {
    const bound = d > 0 ? ['-d', `${d}s`] : ['-n', String(C * P)];
    const { line, cpuS } = pinned([
      process.execPath,
      KALAB,
      'loadgen',
      nginx.url,
      '--engine',
      'undici',
      '-c',
      String(C),
      '-p',
      String(P),
      ...bound,
      '-w',
      '1',
      '--json',
    ]);
    const r = JSON.parse(line);
    if (r.engine !== 'undici') throw new Error(`kalab ran engine ${r.engine}, not undici`);
    return { rps: r.requests.completed / (r.durationMs / 1000), completed: r.requests.completed, cpuS };
  },
  'bare undici (Client.dispatch, same handler shape)': (d) => {
    const { line, cpuS } = pinned([process.execPath, join(nginx.dir, 'bare.mjs'), nginx.url, C, d, P, 'dispatch']);
    const r = JSON.parse(line);
    return { rps: r.rps, completed: r.completed, cpuS };
  },
  'bare undici (client.request + body.dump)': (d) => {
    const { line, cpuS } = pinned([process.execPath, join(nginx.dir, 'bare.mjs'), nginx.url, C, d, P, 'request']);
    const r = JSON.parse(line);
    return { rps: r.rps, completed: r.completed, cpuS };
  },
};
// Start-up and teardown CPU of each client (median of 3), taken off its CPU per request.
const startup = {};
const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
try {
  for (const [name, fn] of Object.entries(cases)) {
    const xs = [fn(0), fn(0), fn(0)].map((r) => r.cpuS).sort((a, b) => a - b);
    startup[name] = xs[1];
    console.error(`${name}: start-up and teardown ${(xs[1] * 1000).toFixed(0)} ms CPU`);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      const r = fn(D);
      r.steadyCpuS = Math.max(0, r.cpuS - startup[name]);
      results[name].push(r);
      console.error(
        `round ${round}: ${name}: ${Math.round(r.rps)} req/s, ${((r.steadyCpuS / r.completed) * 1e6).toFixed(1)} µs CPU/request`,
      );
      await settle();
    }
  }
} finally {
  await nginx.stop();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rows = Object.entries(results).map(([name, rs]) => ({
  name,
  rps: median(rs.map((r) => r.rps)),
  cpuUsPerRequest: median(rs.map((r) => (r.steadyCpuS / r.completed) * 1e6)),
  startupCpuMs: startup[name] * 1000,
  rounds: rs.map((r) => Math.round(r.rps)),
}));
const kalab = rows[0];
const bare = rows[1];
console.log(
  `\nnginx (1 worker, CPU ${args['nginx-cpu']}), every client on CPU ${args.cpu}, ${C} connections, pipelining ${P}, ${D} s x ${ROUNDS} rounds (median)\n`,
);
console.log(
  '| client | req/s | ratio kalab / this | CPU µs per request (start-up taken off) | ratio of CPU per request this / kalab | start-up CPU ms | rounds (req/s) |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.name} | ${Math.round(r.rps)} | ${(kalab.rps / r.rps).toFixed(2)} | ${r.cpuUsPerRequest.toFixed(1)} | ${(r.cpuUsPerRequest / kalab.cpuUsPerRequest).toFixed(2)} | ${r.startupCpuMs.toFixed(0)} | ${r.rounds.join(', ')} |`,
  );
const ratio = kalab.rps / bare.rps;
const cpuRatio = bare.cpuUsPerRequest / kalab.cpuUsPerRequest;
console.log(
  `\nCPU per request, bare / kalab: ${cpuRatio.toFixed(2)}x (1.0 = the lab's instrumentation costs nothing; below 1 it costs that share)`,
);
console.log(
  `\n--engine undici / bare undici loop: ${ratio.toFixed(2)}x (target >= 1.0x): ${ratio >= 1 ? 'met' : `MISSED by ${((1 - ratio) * 100).toFixed(1)}%`}`,
);
if (args.json)
  console.log(
    JSON.stringify({ schema: 'kalab.bench.undici-overhead/v1', connections: C, pipelining: P, ratio, cpuRatio, rows }),
  );
emitRows(
  'undici',
  `nginx (1 worker, CPU ${args['nginx-cpu']}), clients on CPU ${args.cpu}, -c ${C} -p ${P} -w 1, ${D} s x ${ROUNDS} rounds`,
  [
    {
      metric: '--engine undici req/s',
      pair: `kalab --engine undici / ${bare.name}`,
      kalab: kalab.rps,
      peer: bare.rps,
      unit: 'ratio',
      value: ratio,
      target: 1.0,
    },
  ],
);
