import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  AbortedError,
  BadOptionError,
  ErrorCodes,
  parseInteger,
  UnreachableError,
  UnsupportedError,
} from '@kalab/core';
import { siblingScript } from './child-path.js';
import type { ChildLine, SandboxConfig } from './child-protocol.js';
import type { TrackerTick } from './connection-tracker.js';
import { MIN_INTERVAL_MS, OBSERVE_DEFAULTS } from './defaults.js';
import { assertNamespace, unshareArgs } from './namespace.js';
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
   * With serve: the URL of a module exporting createLabServer (LabServerModule), e.g.
   * `import.meta.resolve('@kalab/server')`.
   */
  labServer?: string;
  /** Write a packet capture of the namespace's loopback here. */
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
    throw new BadOptionError('interval', `interval must be at least ${MIN_INTERVAL_MS} ms, got ${intervalMs}`);
  const durationMs = opts.durationMs ?? null;
  if (durationMs !== null && !(durationMs > 0))
    throw new BadOptionError('duration', `duration must be positive, got ${durationMs}`);
  const range = opts.portRange ?? null;
  if (range) {
    parseInteger('port-range', range[0], 1, 65_535);
    parseInteger('port-range', range[1], range[0], 65_535);
  }
  const twReuse = opts.twReuse ?? null;
  if (twReuse !== null && twReuse !== 0 && twReuse !== 1 && twReuse !== 2)
    throw new BadOptionError('tw-reuse', `tw-reuse must be 0, 1 or 2, got ${String(twReuse)}`);
  const serve = opts.serve ?? null;
  if (serve !== null) parseInteger('serve', serve, 1, 65_535);
  if (serve !== null && !opts.labServer)
    throw new BadOptionError('serve', 'serve needs labServer: the module that starts the lab server');
  return {
    command: [...opts.command],
    intervalMs,
    durationMs,
    graceMs: opts.graceMs ?? OBSERVE_DEFAULTS.graceMs,
    portRange: range ? [range[0], range[1]] : null,
    twReuse,
    serve,
    labServer: opts.labServer ?? null,
    capture: opts.capture ?? null,
    ticks: opts.onTick !== undefined,
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
  assertNamespace();
  if (opts.signal?.aborted) throw new AbortedError('kalab observe was stopped before the program started');
  const child = spawn(
    'unshare',
    [...unshareArgs(), process.execPath, siblingScript('sandbox-child.js'), JSON.stringify(cfg)],
    {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    },
  );
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
  const lines = createInterface({ input: child.stdio[3] as Readable });
  lines.on('line', (text) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      return;
    }
    if (line.t === 'started') {
      started = true;
      if (stopAsked) child.kill('SIGTERM');
    } else if (line.t === 'tick') {
      const { t: _, ...tick } = line;
      opts.onTick?.(tick);
    } else if (line.t === 'done') report = line.report;
    else if (line.t === 'error') failure = childError(line);
  });
  // The program may hand fd 3 to a daemon that outlives it: wait for the observer's exit, not the pipe's end.
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('exit', (code) => resolve({ code }));
  });
  opts.signal?.removeEventListener('abort', stopChild);
  if (!report && !failure) await new Promise((r) => setTimeout(r, 200));
  lines.close();
  child.stdio[3]?.destroy();
  if (exit.error) throw new UnsupportedError(`cannot run unshare: ${exit.error.message}`);
  if (failure) throw failure;
  if (!report && stopAsked) throw new AbortedError('kalab observe was stopped before the program started');
  if (!report) throw new Error(`the observer inside the namespace exited (${exit.code}) without a report`);
  return report;
}
