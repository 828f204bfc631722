#!/usr/bin/env node
// The web dashboard under a ~10k requests/s run (not a CI test): the page's JavaScript heap
// over time (measured in Chromium through CDP), and the monitor's CPU with and without the
// page open.
//
//   node bench/web-bench.mjs                      # -R 10000, 20 s without the page, then 60 s with it
//   options: --rate 10000 --seconds 60 --baseline 20 --sample 5
//
// kalab monitor, server and loadgen run as separate processes; the monitor's CPU is read from
// /proc/PID/stat (utime + stime) over each window. Needs Linux and Debian's chromium.
import { spawn } from 'node:child_process';
import puppeteer from 'puppeteer-core';
import { freePort, KALAB } from './lib/peers.mjs';
import { numberArg as arg, CLK_TCK, cpuTicks, startKalab } from './lib/procs.mjs';

const rate = arg('rate', 10_000);
const seconds = arg('seconds', 60);
const baseline = arg('baseline', 20);
const sampleEvery = arg('sample', 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
});

const start = (args, waitFor) => startKalab(children, args, waitFor).then((r) => r.child);

async function cpuOver(pid, s) {
  const t0 = cpuTicks(pid);
  await sleep(s * 1000);
  return ((cpuTicks(pid) - t0) / CLK_TCK / s) * 100;
}

const monitorPort = await freePort();
const wsUrl = `ws://127.0.0.1:${monitorPort}/ws`;
const monitor = await start(['monitor', '--listen', `127.0.0.1:${monitorPort}`], /web dashboard/);
const serverPort = await freePort();
await start(['server', '--port', String(serverPort), '--monitor', wsUrl], /listening on/);
const load = spawn(
  process.execPath,
  [
    KALAB,
    'loadgen',
    `http://127.0.0.1:${serverPort}/`,
    '-R',
    String(rate),
    '-c',
    '64',
    '-d',
    `${baseline + seconds + 8}s`,
    '--monitor',
    wsUrl,
    '--json',
  ],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);
children.push(load);
await sleep(3000);

const without = await cpuOver(monitor.pid, baseline);
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
const cdp = await page.createCDPSession();
await page.goto(`http://127.0.0.1:${monitorPort}/`);
await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live');
const heap = [];
const t0 = cpuTicks(monitor.pid);
for (let t = 0; t < seconds; t += sampleEvery) {
  await sleep(sampleEvery * 1000);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const rps = await page.$eval('[data-metric="merged.rps"]', (e) => Number(e.textContent));
  heap.push({ t: t + sampleEvery, usedKiB: Math.round(usedSize / 1024), rps });
}
const withPage = ((cpuTicks(monitor.pid) - t0) / CLK_TCK / seconds) * 100;
await browser.close();

console.log(`web dashboard at -R ${rate}: page heap after GC, every ${sampleEvery} s`);
console.log('   t(s)   heap KiB   page req/s');
for (const h of heap)
  console.log(`${String(h.t).padStart(7)} ${String(h.usedKiB).padStart(10)} ${String(h.rps).padStart(12)}`);
const first = heap[0].usedKiB;
const last = heap[heap.length - 1].usedKiB;
console.log(`heap: first ${first} KiB, last ${last} KiB, max ${Math.max(...heap.map((h) => h.usedKiB))} KiB`);
console.log(
  `monitor CPU: ${without.toFixed(1)}% of a core without the page (${baseline} s), ${withPage.toFixed(1)}% with it open (${seconds} s)`,
);
process.exit(0);
