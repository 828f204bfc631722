#!/usr/bin/env node
// What the ledger costs: wrk against `kalab server` and against a bare node:http
// hello-world, alternating rounds in the same run, median rps of each and their ratio
// (target >= 0.90, aim 0.95). A benchmark, not a test: it never fails on a noisy number.
//
//   node bench/server-overhead.mjs [--rounds 5] [--duration 5s] [--connections 50] [--threads 1]
//                                  [--kalab-bin FILE]   (a bundled CLI, for a machine without the workspace)
//                                  [--server-cpu N --wrk-cpu M]  (pin with taskset: same placement for every server)
//
// Needs wrk on PATH and a built CLI (pnpm build). Loopback only.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

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

function start(name, args) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = values['server-cpu']
      ? ['taskset', ['-c', values['server-cpu'], process.execPath, ...args]]
      : [process.execPath, args];
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

const kalab = await start('kalab server', [KALAB, 'server', '--port', '0']);
const servers = [
  kalab,
  await start('bare node:http', ['--input-type=module', '-e', BARE]),
  await start('node:http, same response', ['--input-type=module', '-e', SAME]),
];
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
  `\nmedian of per-round ratios: kalab / bare ${perRound(b)}, kalab / same response ${perRound(same)} (target >= 0.90, aim 0.95)`,
);
if (cpuPerRequest.get(kalab).length > 0) {
  const [ck, cb, cs] = servers.map((s) => median(cpuPerRequest.get(s)));
  console.log(
    `server CPU per request (median, /proc utime+stime): kalab ${ck.toFixed(2)} µs, bare ${cb.toFixed(2)} µs, same response ${cs.toFixed(2)} µs; ` +
      `bare / kalab ${(cb / ck).toFixed(3)}, same response / kalab ${(cs / ck).toFixed(3)}`,
  );
}
// The kalab server's own ledger summary, to show every wrk connection was accounted for.
console.log(
  `\n${kalab
    .output()
    .split('\n')
    .filter((l) => /^(ledger|closed by|errors):/.test(l))
    .join('\n')}`,
);
