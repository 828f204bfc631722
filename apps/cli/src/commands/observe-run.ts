import { BadOptionError, parseDuration, parseInteger, parseName, parsePort, parseUrl, printable } from '@kalab/core';
import {
  checkCgroup,
  formatObserveReport,
  MIN_EPHEMERAL_PORT,
  MIN_INTERVAL_MS,
  type ObserveReport,
  type ObserveTick,
  observeCommand,
  observePid,
  observeTraced,
  parseTracer,
  redactArgv,
  resolveTracer,
  streamObservation,
  TRACER_ENV,
} from '@kalab/observe';
import type { ObserveFlags } from './observe.js';
import { tokenNeedsMonitor } from './token-option.js';

function parsePortRange(value: string): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < MIN_EPHEMERAL_PORT || hi > 65_535 || lo > hi)
    throw new BadOptionError(
      '--port-range',
      `--port-range must be LOW-HIGH within ${MIN_EPHEMERAL_PORT}-65535 (the kernel refuses a low bound under ${MIN_EPHEMERAL_PORT}), got "${printable(value)}"`,
    );
  return [lo, hi];
}

function parseTwReuse(value: string): 0 | 1 | 2 {
  if (value !== '0' && value !== '1' && value !== '2')
    throw new BadOptionError('--tw-reuse', `--tw-reuse must be 0, 1 or 2, got "${value}"`);
  return Number(value) as 0 | 1 | 2;
}

function print(report: ObserveReport, json: boolean): void {
  process.stderr.write(formatObserveReport(report));
  // `kalab observe --json -- cmd | head -1` closes the pipe before the report: not an error of kalab's.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  // The program shares this stdout and may end without a newline (`printf abc`): a newline first
  // keeps the JSON on a line of its own (an empty line when the program's output ended with one).
  if (json) process.stdout.write(`\n${JSON.stringify(report)}\n`);
}

/** --watch: one line a second; on a terminal the screen is redrawn with the remotes table. */
function watchLine(t: ObserveTick): void {
  const head = `${(t.atMs / 1000).toFixed(0)}s  new ${t.entry.newConnections}  open ${t.entry.open}  TIME_WAIT ${t.entry.timeWait}  samples ${t.samples}`;
  if (!process.stderr.isTTY) {
    process.stderr.write(`${head}\n`);
    return;
  }
  const rows = t.remotes
    .slice(0, 20)
    .map(
      (r) =>
        `  ${r.remote.padEnd(28)}${String(r.opened).padStart(8)}${String(r.peakOpen).padStart(11)}${String(r.timeWait).padStart(11)}`,
    );
  process.stderr.write(
    `\x1b[H\x1b[2Jkalab observe (Ctrl-C stops)  ${head}\n\n  ${'remote'.padEnd(28)}${'opened'.padStart(8)}${'peak open'.padStart(11)}${'TIME_WAIT'.padStart(11)}\n${rows.join('\n')}\n`,
  );
}

function parseNet(value: string | undefined): 'isolated' | 'outbound' {
  if (value === undefined || value === 'isolated' || value === 'outbound') return value ?? 'isolated';
  throw new BadOptionError('--net', `--net must be isolated or outbound, got ${value}`);
}

/** `kalab observe -- COMMAND` or `--pid PID`: observe, stream, print; the program's exit code is ours. */
export async function run(command: string[], flags: ObserveFlags): Promise<number> {
  const json = flags.json === true;
  if (flags.pid !== undefined && command.length > 0)
    throw new BadOptionError('--pid', `--pid attaches to a running process: give --pid or a COMMAND, not both`);
  const tracer = parseTracer(
    flags.tracer !== undefined ? '--tracer' : TRACER_ENV,
    flags.tracer ?? process.env[TRACER_ENV],
  );
  if (tracer === 'ebpf' && (flags.watch || flags.monitor !== undefined))
    throw new BadOptionError(
      flags.watch ? '--watch' : '--monitor',
      `${flags.watch ? '--watch' : '--monitor'} shows live samples: it goes with --tracer auto or sampling, not ebpf`,
    );
  if (flags.cgroup !== undefined) {
    if (flags.pid !== undefined || command.length > 0)
      throw new BadOptionError('--cgroup', '--cgroup watches a cgroup: give --cgroup, --pid or a COMMAND, one of them');
    if (tracer === 'sampling')
      throw new BadOptionError('--cgroup', '--cgroup needs the eBPF tracer, not --tracer sampling');
    const cgroup = checkCgroup(flags.cgroup);
    resolveTracer('ebpf');
    const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration, 's');
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      print(await observeTraced({ target: { cgroup }, durationMs, signal: stop.signal }), json);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  if (flags.pid === undefined && command.length === 0)
    throw new BadOptionError(
      'command',
      'kalab observe needs a program to run: kalab observe [options] -- COMMAND [ARGS...] (or --pid PID)',
    );
  if (flags.net !== undefined && flags.pid !== undefined)
    throw new BadOptionError('--net', '--net sets the network of a program kalab observe runs, not of a --pid process');
  if (flags.pid !== undefined) {
    // What kalab observe sets up for a program it runs: a process already running has none of it.
    const namespaceOnly = {
      serve: '--serve',
      capture: '--capture',
      portRange: '--port-range',
      twReuse: '--tw-reuse',
    } as const;
    for (const [key, flag] of Object.entries(namespaceOnly))
      if (flags[key as keyof typeof namespaceOnly] !== undefined)
        throw new BadOptionError(flag, `${flag} goes with a COMMAND run in a namespace, not with --pid`);
  }
  if (flags.watch && flags.pid === undefined)
    throw new BadOptionError(
      '--watch',
      '--watch goes with --pid (a program run by kalab observe prints its own output)',
    );
  const intervalMs = parseDuration('--interval', flags.interval ?? '100ms', 'ms', { min: MIN_INTERVAL_MS });
  const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration, 's', { min: 1 });
  const monitorUrl =
    flags.monitor === undefined ? undefined : parseUrl('--monitor', flags.monitor, ['ws:', 'wss:']).href;
  tokenNeedsMonitor(flags, monitorUrl);
  const name = flags.name === undefined ? undefined : parseName('--name', flags.name);
  // A monitor that cannot be reached or refuses the token is said once; the observation goes on.
  let lastProblem = '';
  const stream = monitorUrl
    ? streamObservation({
        url: monitorUrl,
        token: flags.token,
        name,
        target: flags.pid !== undefined ? `pid ${flags.pid}` : redactArgv(command).join(' '),
        onError: (err, fatal) => {
          const what = (err as NodeJS.ErrnoException).code ?? err.message;
          if (what === lastProblem) return;
          lastProblem = what;
          process.stderr.write(
            `kalab: monitor ${monitorUrl}: ${fatal ? err.message : `cannot connect (${what})`}; the observation goes on${fatal ? ' without it' : ', retrying'}\n`,
          );
        },
      })
    : null;
  const onTick = (t: ObserveTick) => {
    stream?.tick(t);
    if (flags.watch) watchLine(t);
  };
  const ticks = stream || flags.watch ? { onTick } : {};
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (flags.pid !== undefined) {
      const report = await observePid({
        pid: parseInteger('--pid', flags.pid, 1, 4_194_304),
        intervalMs,
        durationMs,
        signal: stop.signal,
        // Live lines (--watch, --monitor) come from samples: the eBPF tracer reports at the end.
        tracer: stream || flags.watch ? 'sampling' : tracer,
        ...ticks,
      });
      print(report, json);
      return 0;
    }
    const report = await observeCommand({
      command,
      intervalMs,
      durationMs,
      portRange: flags.portRange === undefined ? null : parsePortRange(flags.portRange),
      twReuse: flags.twReuse === undefined ? null : parseTwReuse(flags.twReuse),
      serve: flags.serve === undefined ? null : parsePort('--serve', flags.serve, false),
      capture: flags.capture ?? null,
      net: parseNet(flags.net),
      signal: stop.signal,
      ...ticks,
    });
    print(report, json);
    return report.exitCode ?? 0;
  } finally {
    await stream?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
