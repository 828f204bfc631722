#!/usr/bin/env node
// Every performance target of the lab in one run: each bench below runs in turn (never two at
// once: they share the CPUs), hands its ratio rows back through bench/lib/rows.mjs, and this
// prints one table. Not a test: it never fails on a noisy number.
//
//   node bench/perf.mjs [--rounds 5] [--duration 5] [--only loadgen,h2,...] [--skip memory,...]
//                       [--write-readme]      (replace README.md's performance table with this run's)
//
// Needs `pnpm build` first and the peers on PATH: wrk, hey, h2load (nghttp2-client), nginx
// (nginx-light), taskset (util-linux); autocannon comes from bench/node_modules.
// Placement on a 2-core machine: the server under test (nginx, or kalab server) on CPU 0,
// every client on CPU 1, as the issue that set the targets measured them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAverage, met } from './lib/rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const README = join(here, '..', 'README.md');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'write-readme': { type: 'boolean', default: false },
  },
});
const R = args.rounds;
const D = args.duration;

/** Each bench, the arguments that make it measure what its issue asked, and what it needs. */
const BENCHES = [
  { name: 'loadgen', script: 'loadgen-bench.mjs', argv: ['--rounds', R, '--duration', D] },
  { name: 'undici', script: 'undici-overhead.mjs', argv: ['--rounds', R, '--duration', D] },
  { name: 'h2', script: 'h2-bench.mjs', argv: ['--rounds', R, '--duration', D] },
  { name: 'tls', script: 'tls-bench.mjs', argv: ['--rounds', R, '--duration', D] },
  {
    name: 'server',
    script: 'server-overhead.mjs',
    argv: ['--rounds', R, '--duration', `${D}s`, '--server-cpu', '0', '--wrk-cpu', '1'],
  },
  { name: 'startup', script: 'startup-bench.mjs', argv: [] },
  // The default engine at 10,000 connections for 60 s, one and two workers (--only memory with
  // the bench's own flags for undici and http: node bench/memory-bench.mjs --engines net,undici,http).
  { name: 'memory', script: 'memory-bench.mjs', argv: ['--engines', 'net', '--workers', '1,2'] },
  { name: 'monitor', script: 'monitor-bench.mjs', argv: [] },
];

const only = args.only?.split(',');
const skip = args.skip?.split(',') ?? [];
const chosen = BENCHES.filter((b) => (only ? only.includes(b.name) : true) && !skip.includes(b.name));

const dir = mkdtempSync(join(tmpdir(), 'kalab-perf-'));
const results = [];
const started = new Date();
const loadBefore = loadAverage();
try {
  for (const b of chosen) {
    const script = join(here, b.script);
    if (!existsSync(script)) {
      results.push({ bench: b.name, error: `${b.script} is missing` });
      continue;
    }
    const rowsFile = join(dir, `${b.name}.json`);
    process.stderr.write(`\n== ${b.script} ${b.argv.join(' ')}\n`);
    const t0 = Date.now();
    const run = spawnSync(process.execPath, [script, ...b.argv], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, KALAB_BENCH_ROWS: rowsFile },
    });
    const seconds = Math.round((Date.now() - t0) / 1000);
    if (!existsSync(rowsFile)) {
      results.push({ bench: b.name, error: `${b.script} exited ${run.status ?? run.signal} without rows`, seconds });
      continue;
    }
    results.push({ ...JSON.parse(readFileSync(rowsFile, 'utf8')), seconds });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
const shown = (r) =>
  r.value === null
    ? '—'
    : r.unit === 'ratio' || r.unit === undefined
      ? r.value.toFixed(2)
      : `${fmt(r.value)} ${r.unit}`;
/** A row may decide for itself (`ok`: e.g. an inexact report misses whatever its memory). */
const verdict = (r) => ((r.ok ?? (r.value !== null && met(r.value, r.target, r.cmp))) ? 'met' : '**missed**');
const lines = [
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`node bench/perf.mjs\` ` +
    `(${cpus().length} CPUs, ${cpus()[0]?.model.trim() ?? '?'}, Node ${process.version}; ` +
    `load average ${loadBefore} before, ${loadAverage()} after).`,
  '',
  '| target | pair | kalab | peer | measured | target | |',
  '|---|---|---:|---:|---:|---:|---|',
];
for (const res of results) {
  if (res.error) {
    lines.push(`| ${res.bench} | — | — | — | — | — | not measured: ${res.error} |`);
    continue;
  }
  for (const r of res.rows) {
    lines.push(
      `| ${r.metric} | ${r.pair} | ${fmt(r.kalab)} | ${fmt(r.peer)} | ${shown(r)} | ${r.cmp} ${r.unit === 'ratio' || r.unit === undefined ? r.target.toFixed(2) : `${fmt(r.target)} ${r.unit}`} | ${verdict(r)} |`,
    );
  }
}
lines.push('');
for (const res of results) if (res.context) lines.push(`- ${res.bench}: ${res.context}`);
const table = lines.join('\n');
console.log(`\n${table}`);

if (args['write-readme']) {
  const BEGIN = '<!-- perf:begin (bench/perf.mjs --write-readme) -->';
  const END = '<!-- perf:end -->';
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(BEGIN);
  const z = text.indexOf(END);
  if (a < 0 || z < a) {
    console.error(`perf: README.md has no ${BEGIN} … ${END} block to replace`);
    process.exit(2);
  }
  writeFileSync(README, `${text.slice(0, a + BEGIN.length)}\n${table}\n${text.slice(z)}`);
  console.error('perf: README.md performance table replaced');
}
