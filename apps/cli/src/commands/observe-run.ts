import { BadOptionError, parseDuration, parseInteger, parsePort, parseUrl } from '@kalab/core';
import {
  formatObserveReport,
  type ObserveReport,
  type ObserveTick,
  observeCommand,
  observePid,
  streamObservation,
} from '@kalab/observe';
import type { ObserveFlags } from './observe.js';

function parsePortRange(value: string): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65_535 || lo > hi)
    throw new BadOptionError('--port-range', `--port-range must be LOW-HIGH within 1-65535, got "${value}"`);
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
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
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

/** `kalab observe -- COMMAND` or `--pid PID`: observe, stream, print; the program's exit code is ours. */
export async function run(command: string[], flags: ObserveFlags): Promise<number> {
  const json = flags.json === true;
  if (flags.pid !== undefined && command.length > 0)
    throw new BadOptionError('--pid', `--pid attaches to a running process: give --pid or a COMMAND, not both`);
  if (flags.pid === undefined && command.length === 0)
    throw new BadOptionError(
      'command',
      'kalab observe needs a program to run: kalab observe [options] -- COMMAND [ARGS...] (or --pid PID)',
    );
  if (flags.watch && flags.pid === undefined)
    throw new BadOptionError(
      '--watch',
      '--watch goes with --pid (a program run by kalab observe prints its own output)',
    );
  const intervalMs = parseDuration('--interval', flags.interval ?? '100ms', 'ms');
  const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration, 's');
  const monitorUrl =
    flags.monitor === undefined ? undefined : parseUrl('--monitor', flags.monitor, ['ws:', 'wss:']).href;
  if (flags.token !== undefined && monitorUrl === undefined)
    throw new BadOptionError('--token', '--token needs --monitor');
  // A monitor that cannot be reached or refuses the token is said once; the observation goes on.
  let lastProblem = '';
  const stream = monitorUrl
    ? streamObservation({
        url: monitorUrl,
        token: flags.token,
        name: flags.name,
        target: flags.pid !== undefined ? `pid ${flags.pid}` : command.join(' '),
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
      labServer: import.meta.resolve('@kalab/server'),
      capture: flags.capture ?? null,
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
