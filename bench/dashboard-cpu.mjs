#!/usr/bin/env node
// CPU of the dashboard process while it shows a ~10k requests/s run (not a CI test).
//
//   node bench/dashboard-cpu.mjs                # real run: kalab monitor + kalab server + kalab loadgen -R 10000
//   node bench/dashboard-cpu.mjs --synthetic    # a fake hub sending busy 10k req/s snapshots 4 times a second
//   node bench/dashboard-cpu.mjs --embedded     # `kalab start` itself (dashboard + embedded monitor + server),
//                                               # loaded by an external kalab loadgen -R 10000
//   options: --rate 10000 --seconds 15 --warmup 5
//
// The dashboard (`kalab dashboard URL`, a viewer only) runs alone in its own process inside
// tmux at 160x48; its CPU is read from /proc/PID/stat (utime + stime) over the window, so
// the monitor, server and loadgen (separate processes) are not counted. Needs Linux + tmux.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/peers.mjs';
import { numberArg as arg, CLK_TCK, cpuTicks, startKalab } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}apps/cli/bin/kalab.js`;
const synthetic = process.argv.includes('--synthetic');
const embedded = process.argv.includes('--embedded');
const rate = arg('rate', 10_000);
const seconds = arg('seconds', 15);
const warmup = arg('warmup', 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const children = [];
const session = `kalab-bench-${process.pid}`;
function cleanup() {
  try {
    execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  } catch {}
  for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const start = (args, waitFor) => startKalab(children, args, waitFor);

/** A stand-in hub: hello → welcome, then a busy snapshot every 250 ms. */
async function syntheticHub(port) {
  const require = createRequire(`${ROOT}packages/core/package.json`);
  const { WebSocketServer } = require('ws');
  const { syntheticSnapshot } = await import(`${ROOT}apps/cli/test/fixtures/synthetic-snapshot.mjs`);
  const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });
  wss.on('connection', (ws) => {
    let timer;
    ws.once('message', () => {
      ws.send(JSON.stringify({ v: 1, type: 'welcome', id: 'bench', heartbeatMs: 5000, serverTime: Date.now() }));
      timer = setInterval(() => {
        const rps = rate * (0.9 + Math.random() * 0.2);
        ws.send(
          JSON.stringify(syntheticSnapshot({ at: Date.now(), rps: Math.round(rps), connections: 200, seconds: 120 })),
        );
      }, 250);
    });
    ws.on('close', () => clearInterval(timer));
  });
  return { close: () => wss.close() };
}

const monitorPort = await freePort();
const wsUrl = `ws://127.0.0.1:${monitorPort}/ws`;
let hub;
let loadgen;
const startLoad = (serverUrl) => {
  const duration = warmup + seconds + 5;
  loadgen = spawn(
    process.execPath,
    [BIN, 'loadgen', serverUrl, '-R', String(rate), '-c', '64', '-d', `${duration}s`, '--monitor', wsUrl, '--json'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  children.push(loadgen);
};
if (synthetic) {
  hub = await syntheticHub(monitorPort);
} else if (embedded) {
  // The load starts once `kalab start` shows its embedded server's URL.
} else {
  await start(['monitor', '--listen', `127.0.0.1:${monitorPort}`], /listening|ws:\/\//i);
  const serverPort = await freePort();
  await start(['server', '--port', String(serverPort), '--monitor', wsUrl], /listening on/);
  startLoad(`http://127.0.0.1:${serverPort}/`);
}

const dashboardCommand = embedded ? `start --monitor-port ${monitorPort}` : `dashboard ${wsUrl}`;
execFileSync('tmux', [
  'new-session',
  '-d',
  '-s',
  session,
  '-x',
  '160',
  '-y',
  '48',
  `exec ${process.execPath} ${BIN} ${dashboardCommand}`,
]);
const pid = Number(
  execFileSync('tmux', ['display-message', '-p', '-t', session, '#{pane_pid}'], { encoding: 'utf8' }).trim(),
);
if (embedded) {
  let target;
  for (let i = 0; i < 100 && !target; i++) {
    await sleep(100);
    const head = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
    if (head.includes(`:${monitorPort}/ws`)) target = /target (http:\/\/127\.0\.0\.1:\d+\/)/.exec(head)?.[1];
  }
  if (!target) throw new Error('kalab start did not show its embedded server (monitor port taken?)');
  startLoad(target);
}
await sleep(warmup * 1000);
const t0 = cpuTicks(pid);
const w0 = performance.now();
const shown = [];
for (let i = 0; i < seconds; i++) {
  await sleep(1000);
  const screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
  const m = /req\/s ([\d,.]+k?)/.exec(screen);
  if (m) shown.push(m[1]);
}
const t1 = cpuTicks(pid);
const wall = (performance.now() - w0) / 1000;
const cpuPct = ((t1 - t0) / CLK_TCK / wall) * 100;
const screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
execFileSync('tmux', ['send-keys', '-t', session, 'q']);

let achieved = '-';
if (loadgen) {
  const out = await new Promise((resolve) => {
    let text = '';
    loadgen.stdout.on('data', (d) => (text += d));
    loadgen.on('exit', () => resolve(text));
  });
  const last = out.trim().split('\n').at(-1);
  try {
    achieved = Math.round(JSON.parse(last).throughput.rps).toLocaleString('en-US');
  } catch {}
}
hub?.close();

console.log(screen.split('\n').slice(0, 6).join('\n'));
console.log('');
console.log(
  '| mode | target rate | loadgen achieved rps | req/s shown (last) | window | CPU of the measured process (% of one core) |',
);
console.log('|---|---|---|---|---|---|');
console.log(
  `| ${synthetic ? 'synthetic snapshots (4/s)' : embedded ? 'kalab start (dashboard + embedded monitor + server)' : 'real: monitor + server + loadgen'} | ${rate.toLocaleString('en-US')}/s | ${achieved} | ${shown.at(-1) ?? '-'} | ${wall.toFixed(1)} s | ${cpuPct.toFixed(1)}% |`,
);
cleanup();
process.exit(0);
