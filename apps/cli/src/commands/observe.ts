import { BadOptionError, parseDuration, parsePort } from '@kalab/core';
import { formatObserveReport, type ObserveReport, observeCommand } from '@kalab/observe';
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
}

const EXAMPLES = `
Examples:
  kalab observe -- go run ./client              run it in a private network namespace, report on stderr
  kalab observe --json -- python3 fetch.py      kalab.observe/v1 as the last line of stdout
  kalab observe --serve 8080 -- ./client        the lab server on 127.0.0.1:8080 first: requests per connection
  kalab observe --capture /tmp/c.pcap -- ./client   tcpdump the namespace's loopback: SYN/FIN/RST per connection
  kalab observe --duration 30s --port-range 40000-40999 --tw-reuse 0 -- ./client

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
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
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
    .addHelpText('after', EXAMPLES)
    .action(
      action(async (command: string[], flags: ObserveFlags) => {
        const json = flags.json === true;
        if (command.length === 0)
          throw new BadOptionError(
            'command',
            'kalab observe needs a program to run: kalab observe [options] -- COMMAND [ARGS...]',
          );
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          const report = await observeCommand({
            command,
            intervalMs: parseDuration('--interval', flags.interval ?? '100ms', 'ms'),
            durationMs: flags.duration === undefined ? null : parseDuration('--duration', flags.duration, 's'),
            portRange: flags.portRange === undefined ? null : parsePortRange(flags.portRange),
            twReuse: flags.twReuse === undefined ? null : parseTwReuse(flags.twReuse),
            serve: flags.serve === undefined ? null : parsePort('--serve', flags.serve, false),
            capture: flags.capture ?? null,
            signal: stop.signal,
          });
          print(report, json);
          return report.exitCode ?? 0;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
