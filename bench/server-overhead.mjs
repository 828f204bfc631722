#!/usr/bin/env node
// What the ledger costs: wrk against `kalab server` and against a bare node:http
// hello-world, alternating rounds in the same run, median rps of each and their ratio
// (target >= 0.90, aim 0.95). A benchmark, not a test: it never fails on a noisy number.
//
//   node bench/server-overhead.mjs [--rounds 5] [--duration 5s] [--connections 50] [--threads 1]
//
// Needs wrk on PATH and a built CLI (pnpm build). Loopback only.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5s' },
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2s' },
  },
});
const rounds = Number(values.rounds);
const KALAB = fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));

// The peer: the smallest node:http server that answers like the article's Go server.
const BARE = `
  import http from 'node:http';
  const server = http.createServer((req, res) => res.end('Hello world'));
  server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
  process.on('SIGTERM', () => process.exit(0));
`;

function start(name, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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
    execFile('wrk', [`-t${values.threads}`, `-c${values.connections}`, `-d${duration}`, url], (err, stdout) => {
      if (err) return reject(err);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
      const errors = /Socket errors:.*/.exec(stdout);
      resolve({ rps: rps ? Number(rps[1]) : 0, non2xx: non2xx ? Number(non2xx[1]) : 0, errors: errors ? errors[0] : '' });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const kalab = await start('kalab server', [KALAB, 'server', '--port', '0']);
const bare = await start('bare node:http', ['--input-type=module', '-e', BARE]);
const results = { kalab: [], bare: [] };
try {
  for (const s of [kalab, bare]) await wrk(s.url, values.warmup);
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first so drift on a shared machine hits both alike.
    const order = i % 2 === 0 ? [kalab, bare] : [bare, kalab];
    for (const s of order) {
      const r = await wrk(s.url, values.duration);
      if (r.non2xx || r.errors) console.error(`${s.name}: ${r.non2xx} non-2xx ${r.errors}`);
      results[s === kalab ? 'kalab' : 'bare'].push(r.rps);
    }
    process.stderr.write(`round ${i + 1}/${rounds}: kalab ${fmt(results.kalab[i])} rps, bare ${fmt(results.bare[i])} rps\n`);
  }
} finally {
  kalab.child.kill('SIGINT');
  bare.child.kill('SIGTERM');
}
await new Promise((r) => kalab.child.once('exit', r));

const rows = results.kalab.map((k, i) => [`${i + 1}`, fmt(k), fmt(results.bare[i]), (k / results.bare[i]).toFixed(3)]);
const mk = median(results.kalab);
const mb = median(results.bare);
rows.push(['median', fmt(mk), fmt(mb), (mk / mb).toFixed(3)]);
console.log(`wrk -t${values.threads} -c${values.connections} -d${values.duration}, ${rounds} alternating rounds, node ${process.version}\n`);
console.log('| round | kalab server rps | bare node:http rps | ratio |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(`\nratio of medians ${(mk / mb).toFixed(3)} (target >= 0.90, aim 0.95)`);
// The kalab server's own ledger summary, to show every wrk connection was accounted for.
console.log(`\n${kalab.output().split('\n').filter((l) => /^(ledger|closed by|errors):/.test(l)).join('\n')}`);
