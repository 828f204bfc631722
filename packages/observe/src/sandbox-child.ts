/**
 * The observer's side inside the private network namespace: `kalab observe` starts this file
 * under `unshare`. It brings the loopback up, applies the sysctls, starts the lab server and
 * tcpdump when asked, runs the program with the terminal's stdio, samples the namespace's
 * TCP table and counters, and reports to the parent as JSON lines on fd 3.
 *
 *   node sandbox-child.js CONFIG_JSON
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  awaitOutbound,
  isKalabError,
  prepareNamespace,
  readBounded,
  readEphemeralRange,
  readNetstatCounters,
  readSnmp,
  readTcpTableSync,
  readTcpTwReuse,
  SLIRP,
} from '@kalab/core';
import { createLabServer, type LabServer } from '@kalab/server';
import { buildObserveReport, type CounterPair, type ServedConnection } from './build-report.js';
import { startCapture, stopCapture } from './capture.js';
import { captureTempDir, saveCapture } from './capture-file.js';
import type { ChildLine, SandboxConfig } from './child-protocol.js';
import { ConnectionTracker } from './connection-tracker.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import { readCapture } from './pcap.js';
import { redactArgv } from './redact-argv.js';
import { shellJoin } from './shell-words.js';

const out = new Socket({ fd: 3, readable: false, writable: true });
out.on('error', () => {}); // the parent went away: nobody left to tell

function send(line: ChildLine): void {
  out.write(`${JSON.stringify(line)}\n`);
}

async function counters() {
  const [snmp, netstat] = await Promise.all([readSnmp(), readNetstatCounters()]);
  return { snmp, netstat };
}

/** A failed tcpdump start leaves no temporary directory behind. */
function dropTemp(tmp: { dir: string }): (err: unknown) => never {
  return (err) => {
    rmSync(tmp.dir, { recursive: true, force: true });
    throw err;
  };
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
  prepareNamespace({ portRange: cfg.portRange, tcpTwReuse: cfg.twReuse });
  const outbound = cfg.net === 'outbound';
  if (outbound) await awaitOutbound(cfg.resolvConf ?? '');
  const range = await readEphemeralRange().catch(() => null);
  const twReuse = readTcpTwReuse();
  let server: LabServer | null = null;
  if (cfg.serve !== null) {
    server = createLabServer({ host: '127.0.0.1', port: cfg.serve, ledgerHistory: OBSERVE_DEFAULTS.maxLives });
    await server.listen();
  }
  // With a way out, the program's connections cross tap0 as well as lo: capture both.
  const tmp = cfg.capture !== null ? captureTempDir() : null;
  const capture = tmp ? await startCapture(tmp.file, outbound ? 'any' : 'lo').catch(dropTemp(tmp)) : null;

  const tracker = new ConnectionTracker(range);
  const before = await counters();
  const t0 = performance.now();
  const sampleNow = async () => {
    const atMs = Math.round(performance.now() - t0);
    const sockets = readTcpTableSync({});
    const snmp = await readSnmp();
    tracker.add({ atMs, sockets, activeOpens: snmp.Tcp.ActiveOpens - before.snmp.Tcp.ActiveOpens });
  };

  const program: ChildProcess = spawn('sh', ['-c', 'exec "$@"', 'sh', ...cfg.command], {
    stdio: 'inherit',
    env: outbound ? { ...process.env, KALAB_HOST: SLIRP.gateway } : process.env,
  });
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
  if (capture && tmp && cfg.capture) {
    const dropped = await stopCapture(capture);
    let bytes: Buffer;
    try {
      bytes = readBounded('--capture', tmp.file, OBSERVE_DEFAULTS.captureReadBytes);
    } finally {
      saveCapture(tmp, cfg.capture);
    }
    captured = { file: cfg.capture.file, view: readCapture(bytes), dropped };
  }
  const report = buildObserveReport({
    command: shellJoin(redactArgv(cfg.command)),
    mode: 'namespace',
    pid: null,
    exitCode,
    intervalMs: cfg.intervalMs,
    tracker,
    counters: pair,
    sandbox: { portRange: range, tcpTwReuse: twReuse },
    network: outbound
      ? { mode: 'outbound', via: 'slirp4netns', hostAddress: SLIRP.gateway }
      : { mode: 'isolated', via: 'loopback', hostAddress: null },
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
