#!/usr/bin/env node
// What the ledger costs: wrk against `kalab server`, a bare node:http hello-world and a
// node:http server sending the lab's exact response, alternating rounds in the same run:
// median rps, the median of the per-round ratios (targets: kalab / same response >= 0.95,
// kalab / bare >= 0.90) and each server's CPU time per request. A benchmark, not a test:
// it never fails on a noisy number.
//
//   node bench/server-overhead.mjs [--rounds 5] [--duration 5s] [--connections 50] [--threads 1]
//                                  [--kalab-bin FILE]   (a bundled CLI, for a machine without the workspace)
//                                  [--server-cpu N --wrk-cpu M]  (pin with taskset: same placement for every server)
//                                  [--cpu-prof DIR]     (run the servers under --cpu-prof; print each one's top
//                                                        self-time functions; the profiler costs CPU, so the
//                                                        ratios of such a run are not the ones to quote)
//   node bench/server-overhead.mjs --callgrind [--requests 10000] [--warmup-requests 20000]
//        instructions per request of each server (node --single-threaded) under valgrind's callgrind,
//        counted only while hey sends a fixed number of keep-alive requests (-c 50) after a warm-up:
//        unlike CPU time, not moved by other processes on a shared machine. Slow (minutes).
//
// Needs wrk (callgrind mode: valgrind and hey) on PATH and a built CLI (pnpm build). Loopback only.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emitRows, loadAverage } from './lib/rows.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5s' },
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2s' },
    'kalab-bin': { type: 'string' },
    'server-cpu': { type: 'string' },
    'wrk-cpu': { type: 'string' },
    'cpu-prof': { type: 'string' },
    callgrind: { type: 'boolean', default: false },
    requests: { type: 'string', default: '10000' },
    'warmup-requests': { type: 'string', default: '20000' },
  },
});
const rounds = Number(values.rounds);
const KALAB = values['kalab-bin'] ?? fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));

// The peers: the smallest node:http hello-world, and one that sends exactly the lab's
// response (same headers, same body), so the last ratio isolates the ledger's cost.
const peer = (handler) => `
  import http from 'node:http';
  const body = 'Hello world';
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length)];
  const server = http.createServer(${handler});
  server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
  process.on('SIGTERM', () => process.exit(0));
`;
const BARE = peer(`(req, res) => res.end('Hello world')`);
const SAME = peer(`(req, res) => { res.writeHead(200, headers); res.end(body, 'latin1'); }`);

const slug = (name) => name.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '');

function start(name, args, wrap = [], flags = []) {
  return new Promise((resolve, reject) => {
    const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir(name)}`] : [];
    const node = [...wrap, process.execPath, ...flags, ...prof, ...args];
    const [cmd, argv] = values['server-cpu']
      ? ['taskset', ['-c', values['server-cpu'], ...node]]
      : [node[0], node.slice(1)];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ name, url: `${m[1]}/`, child, output: () => out });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited ${code} before listening`)));
  });
}

function wrk(url, duration) {
  return new Promise((resolve, reject) => {
    const args = [`-t${values.threads}`, `-c${values.connections}`, `-d${duration}`, url];
    const [cmd, argv] = values['wrk-cpu'] ? ['taskset', ['-c', values['wrk-cpu'], 'wrk', ...args]] : ['wrk', args];
    execFile(cmd, argv, (err, stdout) => {
      if (err) return reject(err);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      const total = /(\d+) requests in/.exec(stdout);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
      const errors = /Socket errors:.*/.exec(stdout);
      resolve({
        rps: rps ? Number(rps[1]) : 0,
        requests: total ? Number(total[1]) : 0,
        non2xx: non2xx ? Number(non2xx[1]) : 0,
        errors: errors ? errors[0] : '',
      });
    });
  });
}

/** The server's CPU time in µs (utime + stime, Linux /proc); null elsewhere. Steal time is not in it. */
function cpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return null;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const SERVERS = [
  ['kalab server', [KALAB, 'server', '--port', '0']],
  ['bare node:http', ['--input-type=module', '-e', BARE]],
  ['node:http, same response', ['--input-type=module', '-e', SAME]],
];
const profDir = (name) => resolve(values['cpu-prof'], slug(name));

if (values.callgrind) {
  if (values['cpu-prof']) throw new Error('--callgrind and --cpu-prof do not mix');
  await callgrind();
  process.exit(0);
}

const kalab = await start(...SERVERS[0]);
const servers = [kalab, await start(...SERVERS[1]), await start(...SERVERS[2])];
const results = new Map(servers.map((s) => [s, []]));
const cpuPerRequest = new Map(servers.map((s) => [s, []]));
try {
  for (const s of servers) await wrk(s.url, values.warmup);
  for (let i = 0; i < rounds; i++) {
    // Rotate which goes first so drift on a shared machine hits all alike.
    const order = servers.map((_, k) => servers[(k + i) % servers.length]);
    for (const s of order) {
      const cpu0 = cpuUs(s.child.pid);
      const r = await wrk(s.url, values.duration);
      const cpu1 = cpuUs(s.child.pid);
      if (r.non2xx || r.errors) console.error(`${s.name}: ${r.non2xx} non-2xx ${r.errors}`);
      results.get(s).push(r.rps);
      if (cpu0 !== null && cpu1 !== null && r.requests > 0) cpuPerRequest.get(s).push((cpu1 - cpu0) / r.requests);
    }
    process.stderr.write(
      `round ${i + 1}/${rounds}: ${servers.map((s) => `${s.name} ${fmt(results.get(s)[i])}`).join(', ')} rps\n`,
    );
  }
} finally {
  kalab.child.kill('SIGINT');
  for (const s of servers.slice(1)) s.child.kill('SIGTERM');
}
await new Promise((r) => kalab.child.once('exit', r));

const [k, b, same] = servers.map((s) => results.get(s));
const rows = k.map((_, i) => [
  `${i + 1}`,
  fmt(k[i]),
  fmt(b[i]),
  fmt(same[i]),
  (k[i] / b[i]).toFixed(3),
  (k[i] / same[i]).toFixed(3),
]);
const [mk, mb, ms] = [k, b, same].map(median);
rows.push(['median', fmt(mk), fmt(mb), fmt(ms), (mk / mb).toFixed(3), (mk / ms).toFixed(3)]);
const pinned = values['server-cpu']
  ? `, servers on CPU ${values['server-cpu']}, wrk on CPU ${values['wrk-cpu'] ?? 'any'}`
  : '';
console.log(
  `wrk -t${values.threads} -c${values.connections} -d${values.duration}, ${rounds} rotating rounds, node ${process.version}${pinned}\n`,
);
console.log(
  '| round | kalab server rps | bare node:http rps | node:http, same response rps | kalab / bare | kalab / same response |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
const perRound = (xs) => median(k.map((v, i) => v / xs[i])).toFixed(3);
console.log(
  `\nmedian of per-round ratios: kalab / bare ${perRound(b)}, kalab / same response ${perRound(same)} (targets: kalab / bare >= 0.90, kalab / same response >= 0.95)`,
);
if (cpuPerRequest.get(kalab).length > 0) {
  const [ck, cb, cs] = servers.map((s) => median(cpuPerRequest.get(s)));
  console.log(
    `server CPU per request (median, /proc utime+stime): kalab ${ck.toFixed(2)} µs, bare ${cb.toFixed(2)} µs, same response ${cs.toFixed(2)} µs; ` +
      `bare / kalab ${(cb / ck).toFixed(3)}, same response / kalab ${(cs / ck).toFixed(3)}`,
  );
}
// For bench/perf.mjs (nothing when run alone): the issue's two targets, median of per-round rps ratios.
emitRows(
  'server-overhead',
  `wrk -t${values.threads} -c${values.connections}, ${values.duration} x ${rounds} rounds${pinned}; load average ${loadAverage()}`,
  [
    {
      metric: 'kalab server req/s',
      pair: 'kalab server / node:http, same response',
      kalab: mk,
      peer: ms,
      unit: 'ratio',
      value: median(k.map((v, i) => v / same[i])),
      target: 0.95,
    },
    {
      metric: 'kalab server req/s',
      pair: 'kalab server / bare node:http',
      kalab: mk,
      peer: mb,
      unit: 'ratio',
      value: median(k.map((v, i) => v / b[i])),
      target: 0.9,
    },
  ],
);
// The kalab server's own ledger summary, to show every wrk connection was accounted for.
console.log(
  `\n${kalab
    .output()
    .split('\n')
    .filter((l) => /^(ledger|closed by|errors):/.test(l))
    .join('\n')}`,
);

if (values['cpu-prof']) {
  await new Promise((r) => setTimeout(r, 500));
  for (const [name] of SERVERS) {
    const dir = profDir(name);
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .at(-1);
    if (!file) {
      console.log(`\n${name}: no profile in ${dir}`);
      continue;
    }
    console.log(`\n${name}: top self time, % of busy time (${join(dir, file)})`);
    const top = topSelfTime(join(dir, file));
    for (const [fn, pct] of top.slice(0, 15)) console.log(`${pct.toFixed(1).padStart(6)}%  ${fn}`);
    const own = top.filter(([fn]) => / (packages|apps)\//.test(fn)).reduce((sum, [, pct]) => sum + pct, 0);
    console.log(`${own.toFixed(1).padStart(6)}%  in the lab's own code (packages/, apps/), all functions`);
  }
}

/**
 * Self time per function of a .cpuprofile, as % of the samples that were not idle, from the
 * first request on (the CLI's start-up, module loading, is not what a request costs).
 */
function topSelfTime(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const serving = (id) => {
    for (let at = id; at !== undefined; at = parent.get(at))
      if (nodes.get(at).callFrame.functionName === 'parserOnHeadersComplete') return true;
    return false;
  };
  const self = new Map();
  let busy = 0;
  let started = false;
  profile.samples.forEach((id, i) => {
    started ||= serving(id);
    const f = nodes.get(id).callFrame;
    if (!started || f.functionName === '(idle)') return;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const where = f.url ? ` ${f.url.replace(/^.*\/(packages|apps|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  return [...self].sort((a, b) => b[1] - a[1]).map(([k, t]) => [k, (100 * t) / busy]);
}

/**
 * Instructions per request of each server (callgrind, instrumentation on only while hey sends
 * --requests after --warmup-requests), all servers at once: counts do not depend on how busy
 * the machine is. User space only: the kernel's share (one read and one writev per request
 * for all three servers) is not counted.
 */
async function callgrind() {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-callgrind-'));
  const run = (cmd, args) =>
    new Promise((ok, fail) =>
      execFile(cmd, args, { maxBuffer: 1 << 24 }, (err, stdout) => (err ? fail(err) : ok(stdout))),
    );
  const hey = async (url, n) => {
    const out = await run('hey', ['-t', '0', '-n', String(n), '-c', values.connections, url]);
    return Number(/\[200\]\s+(\d+) responses/.exec(out)?.[1] ?? 0);
  };
  const one = async ([name, args]) => {
    const out = join(dir, `${slug(name)}.callgrind`);
    const wrap = [
      'valgrind',
      '-q',
      '--tool=callgrind',
      '--instr-atstart=no',
      '--smc-check=all-non-file',
      `--callgrind-out-file=${out}`,
    ];
    // One thread: V8 compiles and collects on the main thread, in step with the requests,
    // so the count does not depend on when a background compile happened to finish.
    const s = await start(name, args, wrap, ['--single-threaded']);
    await hey(s.url, Number(values['warmup-requests']));
    await run('callgrind_control', ['-i', 'on', String(s.child.pid)]);
    const ok = await hey(s.url, Number(values.requests));
    await run('callgrind_control', ['-i', 'off', String(s.child.pid)]);
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill(name === 'kalab server' ? 'SIGINT' : 'SIGTERM');
    await exited;
    const total = readdirSync(dir)
      .filter((f) => f.startsWith(`${slug(name)}.callgrind`))
      .reduce((sum, f) => sum + Number(/^totals:\s+(\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0), 0);
    return { name, ok, perRequest: total / ok };
  };
  process.stderr.write(
    `callgrind: ${values['warmup-requests']} warm-up + ${values.requests} counted requests per server (minutes)\n`,
  );
  const results = await Promise.all(SERVERS.map(one));
  const [k, b, same] = results;
  console.log(`callgrind (node --single-threaded), hey -c${values.connections}, node ${process.version}\n`);
  console.log('| server | requests counted | instructions per request |');
  console.log('|---|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.ok} | ${fmt(r.perRequest)} |`);
  console.log(
    `\ninstructions: bare / kalab ${(b.perRequest / k.perRequest).toFixed(3)}, same response / kalab ${(same.perRequest / k.perRequest).toFixed(3)} (1.0 = kalab costs what the peer costs)`,
  );
}
