import { BadOptionError, parseDuration, parseInteger, parsePort, parseUrl } from '@kalab/core';
import {
  formatObserveReport,
  type ObserveReport,
  type ObserveTick,
  observeCommand,
  observePid,
  streamObservation,
} from '@kalab/observe';
import type { Command } from 'commander';
import { action } from '../cli-error.js';

interface ObserveFlags {
  json?: boolean;
  duration?: string;
  interval?: string;
  portRange?: string;
  twReuse?: string;
  serve?: string;
  capture?: string;
  pid?: string;
  watch?: boolean;
  monitor?: string;
  token?: string;
  name?: string;
}

const EXAMPLES = `
Examples:
  kalab observe -- go run ./client              run it in a private network namespace, report on stderr
  kalab observe --json -- python3 fetch.py      kalab.observe/v1 as the last line of stdout
  kalab observe --serve 8080 -- ./client        the lab server on 127.0.0.1:8080 first: requests per connection
  kalab observe --capture /tmp/c.pcap -- ./client   tcpdump the namespace's loopback: SYN/FIN/RST per connection
  kalab observe --duration 30s --port-range 40000-40999 --tw-reuse 0 -- ./client
  kalab observe --pid 4242 --duration 20s       attach to a running process: its new connections, TIME_WAIT left behind
  kalab observe --pid 4242 --watch              a live line a second until Ctrl-C or the process exits
  kalab observe --monitor ws://127.0.0.1:7070/ws --token T -- ./client   stream it live (role observer)

The program's stdin, stdout and stderr are untouched and its exit code is kalab observe's.`;

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

export function registerObserve(program: Command): void {
  program
    .command('observe')
    .description('run a program in a private network namespace and report what it did with its TCP connections')
    .argument('[command...]', 'the program and its arguments, after --')
    .option('--json', 'print kalab.observe/v1 as the last line of stdout')
    .option('--duration <D>', 'end the observation after D (SIGTERM, then SIGKILL): 30s, 2m, plain number = seconds')
    .option('--interval <D>', 'time between samples of the TCP table', '100ms')
    .option('--port-range <A-B>', "the namespace's ip_local_port_range")
    .option('--tw-reuse <0|1|2>', "the namespace's net.ipv4.tcp_tw_reuse")
    .option('--serve <PORT>', 'start the lab server on 127.0.0.1:PORT inside the namespace before the program')
    .option('--capture <FILE>', "write a tcpdump capture of the namespace's loopback and report its packets")
    .option('--pid <PID>', 'attach to a running process instead (its sockets via /proc/PID/fd and /proc/PID/net/tcp)')
    .option('--watch', 'with --pid: print a live line every second (a redrawn table on a terminal)')
    .option('--monitor <url>', 'stream it live to a monitor (ws://HOST:PORT/ws) as role observer')
    .option('--token <t>', 'monitor token')
    .option('--name <name>', "this observation's name in the monitor")
    .addHelpText('after', EXAMPLES)
    .action(
      action(async (command: string[], flags: ObserveFlags) => {
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
      }),
    );
}
