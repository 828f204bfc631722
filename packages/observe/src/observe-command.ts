import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortedError,
  assertNamespace,
  BadOptionError,
  ErrorCodes,
  type OutboundLink,
  outboundProblem,
  parseInteger,
  readChildLines,
  SLIRP,
  spawnInNamespace,
  startOutbound,
  UnreachableError,
  UnsupportedError,
} from '@kalab/core';
import { checkCaptureTarget } from './capture-file.js';
import { siblingScript } from './child-path.js';
import { ChildLineSchema, type NetMode, type SandboxConfig } from './child-protocol.js';
import type { TrackerTick } from './connection-tracker.js';
import { MIN_EPHEMERAL_PORT, MIN_INTERVAL_MS, OBSERVE_DEFAULTS } from './defaults.js';
import type { ObserveReport } from './report.js';

/** Once a second while the program runs: the tracker's live look, plus requests the lab server counted (--serve). */
export interface ObserveTick extends TrackerTick {
  requests: number;
}

export interface ObserveCommandOptions {
  /** The program and its arguments, run unchanged. */
  command: readonly string[];
  /** Sampling interval (default 100 ms). */
  intervalMs?: number;
  /** End the observation after this long (SIGTERM, then SIGKILL after graceMs). */
  durationMs?: number | null;
  graceMs?: number;
  /** The namespace's ip_local_port_range. */
  portRange?: readonly [number, number] | null;
  /** The namespace's net.ipv4.tcp_tw_reuse. */
  twReuse?: 0 | 1 | 2 | null;
  /** Start the lab server on 127.0.0.1:PORT inside the namespace first. */
  serve?: number | null;
  /**
   * The program's network: 'isolated' (default, loopback only) or 'outbound' (a way out through
   * slirp4netns; this machine's loopback at 10.0.2.2, also in the program's KALAB_HOST).
   */
  net?: NetMode;
  /** Write a packet capture of the namespace's interfaces (loopback, and tap0 with outbound) here. */
  capture?: string | null;
  /** Called once a second while the program runs. */
  onTick?: (tick: ObserveTick) => void;
  /** Aborting ends the observation like Ctrl-C. */
  signal?: AbortSignal;
}

function validate(opts: ObserveCommandOptions): SandboxConfig {
  if (!Array.isArray(opts.command) || opts.command.length === 0 || opts.command[0] === '')
    throw new BadOptionError(
      'command',
      'kalab observe needs a program to run: kalab observe [options] -- COMMAND [ARGS...]',
    );
  const intervalMs = opts.intervalMs ?? OBSERVE_DEFAULTS.intervalMs;
  if (!Number.isFinite(intervalMs) || intervalMs < MIN_INTERVAL_MS)
    throw new BadOptionError('--interval', `--interval must be at least ${MIN_INTERVAL_MS}ms, got ${intervalMs}ms`);
  const durationMs = opts.durationMs ?? null;
  if (durationMs !== null && !(durationMs > 0))
    throw new BadOptionError('--duration', `--duration must be above 0, got ${durationMs}ms`);
  const range = opts.portRange ?? null;
  if (range) {
    // The kernel refuses a low bound under net.ipv4.ip_unprivileged_port_start (1024 in a new namespace).
    parseInteger('--port-range', range[0], MIN_EPHEMERAL_PORT, 65_535);
    parseInteger('--port-range', range[1], range[0], 65_535);
  }
  const twReuse = opts.twReuse ?? null;
  if (twReuse !== null && twReuse !== 0 && twReuse !== 1 && twReuse !== 2)
    throw new BadOptionError('tw-reuse', `tw-reuse must be 0, 1 or 2, got ${String(twReuse)}`);
  const serve = opts.serve ?? null;
  if (serve !== null) parseInteger('serve', serve, 1, 65_535);
  const net = opts.net ?? 'isolated';
  if (net !== 'isolated' && net !== 'outbound')
    throw new BadOptionError('net', `net must be isolated or outbound, got ${String(net)}`);
  return {
    command: [...opts.command],
    intervalMs,
    durationMs,
    graceMs: opts.graceMs ?? OBSERVE_DEFAULTS.graceMs,
    portRange: range ? [range[0], range[1]] : null,
    twReuse,
    serve,
    capture: opts.capture ? checkCaptureTarget('--capture', opts.capture) : null,
    ticks: opts.onTick !== undefined,
    net,
    resolvConf: null,
  };
}

function childError(line: { code: string; message: string }): Error {
  switch (line.code) {
    case ErrorCodes.BAD_OPTION:
      return new BadOptionError('command', line.message);
    case ErrorCodes.UNSUPPORTED:
      return new UnsupportedError(line.message);
    case ErrorCodes.UNREACHABLE:
      return new UnreachableError(line.message);
    default:
      return new Error(line.message);
  }
}

/**
 * Runs a program unchanged inside a private network namespace and reports what it did with
 * its connections. The program's stdin, stdout and stderr are this process's; its exit
 * code is the report's `exitCode`.
 */
export async function observeCommand(opts: ObserveCommandOptions): Promise<ObserveReport> {
  const cfg = validate(opts);
  assertNamespace('kalab observe runs the program in a private network namespace and');
  if (cfg.net === 'outbound') {
    const why = outboundProblem();
    if (why !== null) throw new UnsupportedError(`kalab observe --net outbound: ${why}`);
  }
  if (opts.signal?.aborted) throw new AbortedError('kalab observe was stopped before the program started');
  // The namespace's resolv.conf: slirp4netns's DNS forwarder (bound over /etc/resolv.conf in its mount namespace).
  const dir = cfg.net === 'outbound' ? mkdtempSync(join(tmpdir(), 'kalab-observe-')) : null;
  if (dir) {
    cfg.resolvConf = join(dir, 'resolv.conf');
    writeFileSync(cfg.resolvConf, `nameserver ${SLIRP.dns}\n`, { mode: 0o644 });
  }
  try {
    return await runObserver(cfg, opts);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function runObserver(cfg: SandboxConfig, opts: ObserveCommandOptions): Promise<ObserveReport> {
  const child = spawnInNamespace(process.execPath, [siblingScript('sandbox-child.js'), JSON.stringify(cfg)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    mount: cfg.net === 'outbound',
  });
  // The program may hand fd 3 to a daemon that outlives it: wait for the observer's exit, not the pipe's end.
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('exit', (code) => resolve({ code }));
  });
  // The way out is plugged in from here, outside the namespace; the observer waits for its route.
  let link: OutboundLink | null = null;
  let linkError: Error | null = null;
  if (cfg.net === 'outbound' && child.pid !== undefined) {
    link = await startOutbound(child.pid).catch((err: Error) => {
      linkError = err;
      child.kill('SIGKILL');
      return null;
    });
  }
  // Until the observer has its signal handlers (it says 'started'), a SIGTERM would kill it without a report.
  let started = false;
  let stopAsked = false;
  const stopChild = () => {
    stopAsked = true;
    if (started) child.kill('SIGTERM');
  };
  opts.signal?.addEventListener('abort', stopChild, { once: true });
  let report: ObserveReport | null = null;
  let failure: Error | null = null;
  const lines = readChildLines(
    child.stdio[3] as Readable,
    (v) => ChildLineSchema.parse(v),
    (line) => {
      if (line.t === 'started') {
        started = true;
        if (stopAsked) child.kill('SIGTERM');
      } else if (line.t === 'tick') {
        const { t: _, ...tick } = line;
        opts.onTick?.(tick);
      } else if (line.t === 'done') report = line.report;
      else if (line.t === 'error') failure = childError(line);
    },
    (err) => {
      failure ??= new Error(
        `the observer inside the namespace sent a line out of protocol: ${String(err).slice(0, 200)}`,
      );
    },
  );
  const exit = await exited;
  opts.signal?.removeEventListener('abort', stopChild);
  link?.stop();
  if (!report && !failure) await new Promise((r) => setTimeout(r, 200));
  lines.close();
  child.stdio[3]?.destroy();
  if (exit.error) throw new UnsupportedError(`cannot run unshare: ${exit.error.message}`);
  if (linkError) throw linkError;
  if (failure) throw failure;
  if (!report && stopAsked) throw new AbortedError('kalab observe was stopped before the program started');
  if (!report) throw new Error(`the observer inside the namespace exited (${exit.code}) without a report`);
  return report;
}
