import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadOptionError, isKalabError } from '@kalab/core/errors';
import { parseDuration, parseInteger, parsePort } from '@kalab/core/options';
import {
  formatNetstatTable,
  hasProcNet,
  netstatJson,
  type PortSide,
  readTcpTable,
  type TcpSocket,
} from '@kalab/core/tcp';
import { MIN_INTERVAL_MS, type NetstatFlags } from './netstat.js';

interface NetstatQuery {
  source: 'auto' | 'proc' | 'netstat';
  port?: number;
  side: PortSide;
  pid?: number;
}

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

/** `kalab netstat`: core's TCP reader and its two printers, nothing else (it must start fast). */
export async function run(flags: NetstatFlags): Promise<number> {
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
