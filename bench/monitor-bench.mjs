#!/usr/bin/env node
// A monitor with 64 sources: its memory and the snapshot rate a viewer receives.
//
//   pnpm build && node bench/monitor-bench.mjs [--servers 32] [--loadgens 32] [--hosts 16]
//                  [--seconds 30] [--warmup 10] [--snapshot-ms 250] [--json]
//                  [--heap-snapshot] [--monitor-node-options=FLAGS]
//
// Target: "a monitor with 64 sources stays under 100 MiB and keeps its snapshot rate".
//
// Three processes, all on loopback:
// - `kalab monitor --listen 127.0.0.1:PORT` (the CLI, as users run it): its RSS is read from
//   /proc/PID/status (VmRSS every 500 ms during the window, and VmHWM, the peak since start);
//   its CPU from /proc/PID/stat.
// - the sources (one child process, real code and the real ws protocol through core's
//   MonitorLink): `--servers` lab servers (@kalab/server createLabServer + MonitorReporter:
//   a tick and a TCP sample each second, connection events 4 times a second) spread over
//   `--hosts` host names, each under light real traffic (a keep-alive client at ~20 req/s and
//   a new connection every 250 ms); and `--loadgens` loadgen runs (@kalab/loadgen runLoad +
//   streamToMonitor, as `kalab loadgen --monitor`: run-started, a tick and a TCP sample each
//   second, the report at the end) at -R 20 -c 2 -w 1 against those servers.
// - one viewer (MonitorLink role viewer, subscribed at --snapshot-ms like the dashboard's
//   250 ms) counting the snapshots it receives, their gaps and sizes.
// The window starts after --warmup seconds, once every source is in the snapshot. Not a
// test: it prints the measured numbers against the targets, never fails CI.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { emitRows } from './lib/rows.mjs';

const KALAB = fileURLToPath(new URL('../apps/cli/bin/kalab.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const TARGET_MIB = 100;

const { values: args } = parseArgs({
  options: {
    servers: { type: 'string', default: '32' },
    loadgens: { type: 'string', default: '32' },
    hosts: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '10' },
    'snapshot-ms': { type: 'string', default: '250' },
    'heap-snapshot': { type: 'boolean', default: false },
    'monitor-node-options': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
    'sources-child': { type: 'string' },
  },
});

// Preloaded into the monitor (--import): its isolate's heap every 500 ms, one JSON line each.
const PROBE = `
import { appendFileSync } from 'node:fs';
const file = process.env.KALAB_MEMPROBE;
setInterval(() => {
  const m = process.memoryUsage();
  appendFileSync(file, JSON.stringify({ t: Date.now(), heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }) + '\\n');
}, 500).unref();
`;

if (args['sources-child']) await sources(JSON.parse(args['sources-child']));
else await main();

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
}

async function main() {
  const servers = Number(args.servers);
  const loadgens = Number(args.loadgens);
  const seconds = Number(args.seconds);
  const warmup = Number(args.warmup);
  const intervalMs = Number(args['snapshot-ms']);
  const total = servers + loadgens;

  // --heap-snapshot: the monitor writes a heap snapshot into the current directory at the window's end.
  const snapFlags = args['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  const dir = mkdtempSync(join(tmpdir(), 'kalab-monitor-bench-'));
  const probe = join(dir, 'probe.mjs');
  const probeFile = join(dir, 'heap.jsonl');
  writeFileSync(probe, PROBE);
  const monitor = spawn(
    process.execPath,
    [
      ...snapFlags,
      ...args['monitor-node-options'].split(' ').filter(Boolean),
      '--import',
      pathToFileURL(probe).href,
      KALAB,
      'monitor',
      '--listen',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KALAB_MEMPROBE: probeFile } },
  );
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: monitor.stdout }).on('line', (l) => {
      const m = /(ws:\/\/[^\s]+)/.exec(l);
      if (m) resolve(m[1]);
    });
    monitor.once('exit', (code) => reject(new Error(`kalab monitor exited with ${code}`)));
  });
  const httpUrl = url.replace(/^ws/, 'http').replace(/\/ws$/, '');
  const afterStart = procStatus(monitor.pid).rss;
  console.error(`monitor at ${url} (pid ${monitor.pid}, ${(afterStart / MiB).toFixed(1)} MiB at start)`);

  const { MonitorLink, PROTOCOL_VERSION } = await import('@kalab/protocol');
  const viewer = new MonitorLink({ url, role: 'viewer', name: 'monitor-bench-viewer' });
  const snaps = [];
  let lastSnapshot = null;
  viewer.on('connected', () => viewer.send({ v: PROTOCOL_VERSION, type: 'subscribe', intervalMs }));
  viewer.on('message', (m) => {
    if (m.type !== 'snapshot') return;
    lastSnapshot = m;
    snaps.push({ t: performance.now(), at: m.at, sources: m.sources.filter((s) => s.connected).length });
    if (process.env.MB_DEBUG) console.error('snap', Math.round(performance.now()), m.at % 100000);
  });
  let viewerErrors = 0;
  let lastViewerError = '';
  viewer.on('error', (err) => {
    viewerErrors++;
    lastViewerError = err.message.slice(0, 300);
  });
  viewer.start();

  const runFor = warmup + seconds + 15;
  const child = spawn(
    process.execPath,
    [SELF, '--sources-child', JSON.stringify({ url, servers, loadgens, hosts: Number(args.hosts), seconds: runFor })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout.resume();

  // Warm-up: until every source is connected (bounded), then at least --warmup seconds.
  const t0 = performance.now();
  while (performance.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 500));
    const n = snaps.at(-1)?.sources ?? 0;
    if (n >= total && performance.now() - t0 >= warmup * 1000) break;
  }
  const joinedS = (performance.now() - t0) / 1000;
  console.error(
    `${snaps.at(-1)?.sources ?? 0} of ${total} sources connected after ${joinedS.toFixed(1)} s; measuring ${seconds} s`,
  );

  const w0 = performance.now();
  const cpu0 = cpuSeconds(monitor.pid);
  const from = snaps.length;
  const rss = [];
  while (performance.now() - w0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 500));
    rss.push(procStatus(monitor.pid).rss);
  }
  const w1 = performance.now();
  const cpu1 = cpuSeconds(monitor.pid);
  const { hwm } = procStatus(monitor.pid);
  if (args['heap-snapshot']) {
    monitor.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 5000));
  }
  const window = snaps.slice(from).filter((s) => s.t <= w1);
  const gaps = window.slice(1).map((s, i) => s.t - window[i].t);
  const sizes = Buffer.byteLength(JSON.stringify(lastSnapshot ?? {}));
  const minSources = Math.min(...window.map((s) => s.sources));
  const api = await new Promise((resolve) => {
    http
      .get(`${httpUrl}/api/snapshot`, (res) => {
        let b = '';
        res.on('data', (d) => {
          b += d;
        });
        res.on('end', () => resolve(b.length));
      })
      .on('error', () => resolve(0));
  });

  child.kill('SIGTERM');
  await viewer.close();
  monitor.kill('SIGTERM');
  await new Promise((r) => monitor.once('exit', r));

  const heap = readFileSync(probeFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  rmSync(dir, { recursive: true, force: true });
  const peakOf = (k) => Math.max(...heap.map((h) => h[k])) / MiB;
  const windowS = (w1 - w0) / 1000;
  const rate = window.length / windowS;
  const expected = 1000 / intervalMs;
  const peak = Math.max(...rss);
  const sorted = [...gaps].sort((a, b) => a - b);
  const p99gap = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
  const maxGap = sorted.at(-1) ?? 0;
  const result = {
    sources: total,
    servers,
    loadgens,
    minSourcesConnected: minSources,
    windowS,
    rssStartMiB: afterStart / MiB,
    rssPeakMiB: peak / MiB,
    rssEndMiB: rss.at(-1) / MiB,
    hwmMiB: hwm / MiB,
    cpuPercent: ((cpu1 - cpu0) / windowS) * 100,
    snapshots: window.length,
    snapshotRate: rate,
    expectedRate: expected,
    gapMsP99: p99gap,
    gapMsMax: maxGap,
    snapshotBytes: sizes,
    heapTotalPeakMiB: peakOf('heapTotal'),
    heapUsedPeakMiB: peakOf('heapUsed'),
    externalPeakMiB: peakOf('external'),
    arrayBuffersPeakMiB: peakOf('arrayBuffers'),
    viewerErrors,
    lastViewerError,
    apiSnapshotBytes: api,
  };
  const memOk = Math.max(peak, hwm) / MiB < TARGET_MIB;
  const rateOk = rate >= expected * 0.95 && minSources >= total;
  console.log(
    `\nkalab monitor with ${total} sources (${servers} servers, ${loadgens} loadgen runs, ${args.hosts} host names), viewer at ${intervalMs} ms, ${windowS.toFixed(1)} s window`,
  );
  console.log(
    '| sources connected (min) | RSS start / peak / end MiB | VmHWM MiB | CPU % | snapshots/s (expected) | gap p99 / max ms | snapshot bytes |',
  );
  console.log('|---|---|---|---|---|---|---|');
  console.log(
    `| ${minSources} of ${total} | ${result.rssStartMiB.toFixed(1)} / ${result.rssPeakMiB.toFixed(1)} / ${result.rssEndMiB.toFixed(1)} | ${result.hwmMiB.toFixed(1)} | ${result.heapTotalPeakMiB.toFixed(1)} / ${result.heapUsedPeakMiB.toFixed(1)} | ${result.externalPeakMiB.toFixed(1)} (${result.arrayBuffersPeakMiB.toFixed(1)}) | ${result.cpuPercent.toFixed(1)} | ${rate.toFixed(2)} (${expected.toFixed(2)}) | ${p99gap.toFixed(0)} / ${maxGap.toFixed(0)} | ${sizes} |`,
  );
  console.log(
    `\nmemory: peak ${Math.max(peak, hwm) / MiB < 1000 ? (Math.max(peak, hwm) / MiB).toFixed(1) : '?'} MiB (VmHWM, the peak since start, included) against < ${TARGET_MIB} MiB: ${memOk ? 'met' : `MISSED by ${(Math.max(peak, hwm) / MiB - TARGET_MIB).toFixed(1)} MiB`}`,
  );
  console.log(
    `snapshot rate: ${rate.toFixed(2)}/s against ${expected.toFixed(2)}/s (at least 95%, all ${total} sources in every snapshot): ${rateOk ? 'met' : 'MISSED'}`,
  );
  if (viewerErrors > 0) console.log(`viewer: ${viewerErrors} messages it could not decode (last: ${lastViewerError})`);
  if (args.json) console.log(JSON.stringify({ schema: 'kalab.bench.monitor/v1', targetMiB: TARGET_MIB, ...result }));
  emitRows(
    'monitor',
    `kalab monitor, ${total} sources (${servers} servers, ${loadgens} loadgen runs), viewer at ${intervalMs} ms, ${windowS.toFixed(1)} s`,
    [
      {
        metric: `monitor memory, ${total} sources`,
        pair: 'peak RSS (VmHWM included)',
        kalab: Math.max(peak, hwm) / MiB,
        peer: null,
        unit: 'MiB',
        value: Math.max(peak, hwm) / MiB,
        target: TARGET_MIB,
        cmp: '<',
      },
      {
        metric: `monitor snapshot rate, ${total} sources`,
        pair: 'snapshots/s a viewer got / expected',
        kalab: rate,
        peer: expected,
        unit: 'ratio',
        value: minSources >= total ? rate / expected : 0,
        target: 0.95,
      },
    ],
  );
}

/** The sources: real servers and loadgen runs publishing to the monitor. */
async function sources(o) {
  const { createLabServer, MonitorReporter } = await import('@kalab/server');
  const { runLoad, streamToMonitor } = await import('@kalab/loadgen');
  const closers = [];
  const urls = [];
  for (let i = 0; i < o.servers; i++) {
    const lab = createLabServer({ host: '127.0.0.1', port: 0 });
    const address = await lab.listen();
    const reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: o.url,
      name: `server-${i}`,
      host: `host-${i % o.hosts}`,
      port: address.port,
    }).start();
    urls.push(address.url);
    // Light traffic: a keep-alive client (~20 req/s) and a new connection every 250 ms.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (opts) =>
      http
        .get(address.url, opts, (res) => res.resume())
        .on('error', () => {})
        .end();
    const t1 = setInterval(() => get({ agent }), 50);
    const t2 = setInterval(() => get({ agent: false }), 250);
    closers.push(async () => {
      clearInterval(t1);
      clearInterval(t2);
      agent.destroy();
      await reporter.close();
      await lab.close();
    });
  }
  const runs = [];
  for (let i = 0; i < o.loadgens; i++) {
    const run = runLoad({
      target: urls[i % urls.length] ?? 'http://127.0.0.1:9/',
      connections: 2,
      rate: 20,
      workers: 1,
      durationMs: o.seconds * 1000,
    });
    runs.push(streamToMonitor(run, { url: o.url, name: `loadgen-${i}` }));
    run.on('error', () => {});
  }
  process.stdout.write('ready\n');
  const stop = async () => {
    await Promise.all(closers.map((c) => c().catch(() => {})));
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  await Promise.allSettled(runs);
}
