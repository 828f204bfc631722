import { BadOptionError } from '@kalab/core/errors';
import { parsePort } from '@kalab/core/options';
import { MONITOR_DEFAULTS } from '@kalab/monitor/defaults';
import { type Command, Option } from 'commander';
import { lazyAction } from './lazy-action.js';

export interface MonitorFlags {
  listen: string;
  token?: string;
  record?: string;
  heartbeat?: string;
  snapshotInterval?: string;
  hostName?: string;
}

/** `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` → host and port; the message names --listen. */
export function parseListen(value: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) return { host: v6[1]!, port: parsePort('--listen', v6[2]!) };
  if (/^\d+$/.test(value)) return { host: MONITOR_DEFAULTS.host, port: parsePort('--listen', value) };
  const m = /^([^:\s]*):(\d+)$/.exec(value);
  if (!m)
    throw new BadOptionError(
      '--listen',
      `--listen must be HOST:PORT like 127.0.0.1:7070 or [::1]:7070, got "${value}"`,
    );
  return { host: m[1] || MONITOR_DEFAULTS.host, port: parsePort('--listen', m[2]!) };
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description(
      'run the hub that gathers servers, loadgen agents and TCP samples (ws /ws, /api/snapshot, /metrics, /healthz)',
    )
    .option(
      '--listen <host:port>',
      'address to listen on; a non-loopback address needs a token (one is generated and printed)',
      `${MONITOR_DEFAULTS.host}:${MONITOR_DEFAULTS.port}`,
    )
    .option('--token <token>', 'token sources must present (viewers without it can only read)')
    .option('--record <dir>', 'record each run to DIR as JSON lines (read them with kalab report FILE)')
    .addOption(new Option('--heartbeat <ms>', 'ws ping interval; a peer silent for two is lost').hideHelp())
    .addOption(new Option('--snapshot-interval <ms>', 'default viewer snapshot interval').hideHelp())
    .addOption(new Option('--host-name <name>', "this host's name in snapshots (default: os.hostname())").hideHelp())
    .addHelpText(
      'after',
      '\nExamples:\n  kalab monitor\n  kalab monitor --listen 127.0.0.1:7070 --record ./runs\n' +
        '  kalab monitor --listen 0.0.0.0:7070 --token "$(openssl rand -hex 16)"   # agents on other machines\n',
    )
    .action(lazyAction(() => import('./monitor-run.js')));
}
