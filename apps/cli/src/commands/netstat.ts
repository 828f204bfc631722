import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BadOptionError,
  formatNetstatTable,
  hasProcNet,
  isKalabError,
  netstatJson,
  type PortSide,
  parseDuration,
  parseInteger,
  parsePort,
  readTcpTable,
  type TcpSocket,
} from '@kalab/core';
import { type Command, Option } from 'commander';
import { action } from '../cli-error.js';

interface NetstatFlags {
  source: string;
  port?: string;
  side: string;
  pid?: string;
  json?: boolean;
  watch?: boolean;
  interval: string;
  count?: string;
}

interface NetstatQuery {
  source: 'auto' | 'proc' | 'netstat';
  port?: number;
  side: PortSide;
  pid?: number;
}

/** Redraws faster than this would measure kalab more than the sockets. */
const MIN_INTERVAL_MS = 50;

const EXAMPLES = `
Examples:
  kalab netstat --port 8080                 sockets with local or remote port 8080, then counts by state
  kalab netstat --port 8080 --json          { "sockets": [{ "local", "remote", "state" }], "states": {...} }
  kalab netstat --pid 4242                  the table of pid 4242's network namespace (/proc/4242/net)
  kalab netstat --port 8080 --watch         redraw every second until Ctrl-C (--interval 500ms, --count 10)

Without /proc (macOS, BSD) it runs \`netstat -an\` and parses that.`;

/** Validates the flags once, at the boundary; messages name the flag. */
function parseQuery(flags: NetstatFlags): NetstatQuery {
  if (flags.source !== 'auto' && flags.source !== 'proc' && flags.source !== 'netstat') {
    throw new BadOptionError('--source', `--source must be auto, proc or netstat, got "${flags.source}"`);
  }
  const q: NetstatQuery = { side: 'either', source: flags.source };
  if (flags.port !== undefined) q.port = parsePort('--port', flags.port);
  if (flags.side !== 'local' && flags.side !== 'remote' && flags.side !== 'either') {
    throw new BadOptionError('--side', `--side must be local, remote or either, got "${flags.side}"`);
  }
  q.side = flags.side;
  if (flags.pid !== undefined) {
    const pid = parseInteger('--pid', flags.pid, 1, 4_194_304);
    if (hasProcNet({}) && !existsSync(`/proc/${pid}`))
      throw new BadOptionError('--pid', `--pid ${pid}: no such process`);
    q.pid = pid;
  }
  return q;
}

async function read(q: NetstatQuery): Promise<TcpSocket[]> {
  try {
    return await readTcpTable({ pid: q.pid, port: q.port, side: q.side, source: q.source });
  } catch (err) {
    // The process may exit between two redraws: still a --pid problem, still exit 2.
    if (isKalabError(err) && (err as BadOptionError).option === 'pid')
      throw new BadOptionError('--pid', `--pid ${q.pid}: ${err.message}`);
    throw err;
  }
}

function render(sockets: TcpSocket[], json: boolean): string {
  return json ? JSON.stringify(netstatJson(sockets)) + '\n' : formatNetstatTable(sockets);
}

export function registerNetstat(program: Command): void {
  program
    .command('netstat')
    .description('the kernel TCP table (proto, local, remote, state) of the matching sockets and a summary by state')
    .option('--port <P>', 'only sockets whose local or remote port is P')
    .option('--side <SIDE>', 'which port --port looks at: local, remote or either', 'either')
    .option('--pid <PID>', 'read the network namespace of process PID (/proc/PID/net)')
    .option('--json', 'print { sockets: [{ local, remote, state }], states: {...} }')
    .option('--watch', 'redraw every --interval until Ctrl-C (with --json: one JSON line per redraw)')
    .option('--interval <D>', 'time between redraws with --watch (500ms, 2s, plain number = seconds)', '1s')
    .option('--count <N>', 'with --watch, stop after N redraws')
    // What non-Linux systems get; hidden, for checking the fallback where /proc exists.
    .addOption(new Option('--source <SOURCE>', 'auto, proc or netstat (run `netstat -an`)').default('auto').hideHelp())
    .addHelpText('after', EXAMPLES)
    .action(
      action(async (flags: NetstatFlags) => {
        const q = parseQuery(flags);
        const json = flags.json === true;
        // Checked with or without --watch: a bad value is bad input either way. The upper bound
        // is the longest timer Node keeps (a longer one would redraw at once).
        const intervalMs = parseDuration('--interval', flags.interval, 's', { min: MIN_INTERVAL_MS });
        const count = flags.count === undefined ? Number.POSITIVE_INFINITY : parseInteger('--count', flags.count, 1);
        if (!flags.watch) {
          process.stdout.write(render(await read(q), json));
          return 0;
        }
        return watch(q, json, intervalMs, count);
      }),
    );
}

/** Redraws until Ctrl-C (SIGINT/SIGTERM) or `count` frames; a TTY gets the screen cleared each time. */
async function watch(q: NetstatQuery, json: boolean, intervalMs: number, count: number): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  // `kalab netstat --watch | head` closes the pipe: stop like Ctrl-C instead of crashing on EPIPE.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop.abort();
    else throw err;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  const tty = process.stdout.isTTY === true && !json;
  try {
    for (let frame = 0; frame < count && !stop.signal.aborted; frame++) {
      const body = render(await read(q), json);
      if (tty) {
        const what = `${q.port === undefined ? 'all ports' : `port ${q.port}`}${q.pid === undefined ? '' : `, pid ${q.pid}'s namespace`}`;
        process.stdout.write(
          `\x1b[H\x1b[2Jkalab netstat: ${what}, every ${intervalMs} ms, ${new Date().toISOString()} (Ctrl-C stops)\n\n${body}`,
        );
      } else {
        process.stdout.write(json || frame === 0 ? body : `\n${body}`);
      }
      if (frame + 1 < count) await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stop.signal.aborted) process.stdout.on('error', () => {}); // writes still queued may fail too
    process.stdout.off('error', onStdoutError);
  }
  return 0;
}
