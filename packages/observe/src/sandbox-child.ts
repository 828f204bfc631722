/**
 * The observer's side inside the private network namespace: `kalab observe` starts this file
 * under `unshare`. It brings the loopback up, applies the sysctls, starts the lab server and
 * tcpdump when asked, runs the program with the terminal's stdio, samples the namespace's
 * TCP table and counters, and reports to the parent as JSON lines on fd 3.
 *
 *   node sandbox-child.js CONFIG_JSON
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isKalabError,
  readEphemeralRange,
  readNetstatCounters,
  readSnmp,
  readTcpTableSync,
  UnsupportedError,
} from '@kalab/core';
import { buildObserveReport, type CounterPair, type ServedConnection } from './build-report.js';
import { startCapture, stopCapture } from './capture.js';
import type { ChildLine, LabServerModule, SandboxConfig } from './child-protocol.js';
import { ConnectionTracker } from './connection-tracker.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import { readCapture } from './pcap.js';
import { shellJoin } from './shell-words.js';

const out = new Socket({ fd: 3, readable: false, writable: true });
out.on('error', () => {}); // the parent went away: nobody left to tell

function send(line: ChildLine): void {
  out.write(`${JSON.stringify(line)}\n`);
}

function prepare(cfg: SandboxConfig): void {
  const r = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0)
    throw new UnsupportedError(`cannot bring up the namespace's loopback: ${r.error?.message ?? r.stderr.trim()}`);
  if (cfg.portRange)
    writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', `${cfg.portRange[0]} ${cfg.portRange[1]}\n`);
  if (cfg.twReuse !== null) writeFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', `${cfg.twReuse}\n`);
}

async function counters() {
  const [snmp, netstat] = await Promise.all([readSnmp(), readNetstatCounters()]);
  return { snmp, netstat };
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

async function main(cfg: SandboxConfig): Promise<number> {
  // A Ctrl-C reaches this process too (same process group): from now on it ends the observation, never the observer.
  let stop = () => {
    stopEarly = true;
  };
  let stopEarly = false;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop());
  prepare(cfg);
  const range = await readEphemeralRange().catch(() => null);
  const twText = (() => {
    try {
      return Number.parseInt(readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8'), 10);
    } catch {
      return null;
    }
  })();
  let server: ReturnType<LabServerModule['createLabServer']> | null = null;
  if (cfg.serve !== null && cfg.labServer !== null) {
    const { createLabServer } = (await import(cfg.labServer)) as LabServerModule;
    server = createLabServer({ host: '127.0.0.1', port: cfg.serve, ledgerHistory: OBSERVE_DEFAULTS.maxLives });
    await server.listen();
  }
  const capture = cfg.capture !== null ? await startCapture(cfg.capture) : null;

  const tracker = new ConnectionTracker(range);
  const before = await counters();
  const t0 = performance.now();
  const sampleNow = async () => {
    const atMs = Math.round(performance.now() - t0);
    const sockets = readTcpTableSync({});
    const snmp = await readSnmp();
    tracker.add({ atMs, sockets, activeOpens: snmp.Tcp.ActiveOpens - before.snmp.Tcp.ActiveOpens });
  };

  const program: ChildProcess = spawn('sh', ['-c', 'exec "$@"', 'sh', ...cfg.command], { stdio: 'inherit' });
  const exited = new Promise<number>((resolve) => {
    program.on('exit', (code, signal) => resolve(exitCodeOf(code, signal)));
    program.on('error', () => resolve(127));
  });
  send({ t: 'started', pid: program.pid ?? 0 });

  let stopping = false;
  stop = () => {
    if (stopping) return;
    stopping = true;
    program.kill('SIGTERM');
    setTimeout(() => program.kill('SIGKILL'), cfg.graceMs).unref();
  };
  if (stopEarly) stop();
  const deadline = cfg.durationMs !== null ? setTimeout(stop, cfg.durationMs) : null;

  let done = false;
  let exitCode = 0;
  exited.then((code) => {
    done = true;
    exitCode = code;
  });
  let lastTick = 0;
  while (!done) {
    await sampleNow();
    if (cfg.ticks && tracker.durationMs - lastTick >= 1000) {
      lastTick = tracker.durationMs;
      send({ t: 'tick', ...tracker.tick(), requests: server?.ledger.requests ?? 0 });
    }
    // A fixed rate: the time a sample takes comes out of the wait, not on top of it.
    const next = cfg.intervalMs - ((performance.now() - t0) % cfg.intervalMs);
    await Promise.race([sleep(next), exited]);
  }
  if (deadline) clearTimeout(deadline);
  // The program's sockets close when it exits; let loopback finish the handshakes, then look once more.
  await sleep(OBSERVE_DEFAULTS.settleMs);
  await sampleNow();
  if (cfg.ticks) send({ t: 'tick', ...tracker.tick(), requests: server?.ledger.requests ?? 0 }); // the final totals
  const after = await counters();
  const pair: CounterPair = { before, after };

  let serve: { address: string; connections: ServedConnection[] } | null = null;
  if (server) {
    await server.close({ graceMs: 500 });
    const recs = [...server.ledger.recentlyClosed(), ...server.ledger.openConnections()];
    serve = {
      address: `127.0.0.1:${server.address().port}`,
      connections: recs.map((r) => ({ remote: r.remote, local: r.local, requests: r.requests, closedBy: r.closedBy })),
    };
  }
  let captured = null;
  if (capture && cfg.capture) {
    const dropped = await stopCapture(capture);
    captured = { file: cfg.capture, view: readCapture(readFileSync(cfg.capture)), dropped };
  }
  const report = buildObserveReport({
    command: shellJoin(cfg.command),
    mode: 'namespace',
    pid: null,
    exitCode,
    intervalMs: cfg.intervalMs,
    tracker,
    counters: pair,
    sandbox: { portRange: range, tcpTwReuse: Number.isNaN(twText) ? null : twText },
    serve,
    capture: captured,
  });
  send({ t: 'done', report });
  return exitCode;
}

function finish(code: number): void {
  out.end(() => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
}

main(JSON.parse(process.argv[2] ?? '{}') as SandboxConfig).then(finish, (err: unknown) => {
  const e = err as { code?: unknown; message?: unknown; stack?: unknown };
  send({
    t: 'error',
    code: isKalabError(err) ? (err as { code: string }).code : 'KALAB_ERR_INTERNAL',
    message: isKalabError(err) ? String(e.message) : String(e?.stack ?? e?.message ?? err),
  });
  finish(isKalabError(err) ? 3 : 70);
});
