import { isIP } from 'node:net';
import { BadOptionError, parsePort, printable } from '@kalab/core/options';
import { MONITOR_DEFAULTS } from '@kalab/monitor/defaults';
import { type Command, Option } from 'commander';
import { lazyAction } from './lazy-action.js';
import { type TokenFlags, tokenFileOption, tokenOption } from './token-option.js';

export interface MonitorFlags {
  listen: string;
  token?: string;
  tokenFile?: string;
  tokenFrom?: TokenFlags['tokenFrom'];
  publicRead?: boolean;
  allowHost?: string[];
  record?: string;
  heartbeat?: string;
  snapshotInterval?: string;
  hostName?: string;
}

/** `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` → host and port; the message names --listen. */
export function parseListen(value: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6 && isIP(v6[1]!) !== 6)
    throw new BadOptionError(
      '--listen',
      `--listen [HOST]:PORT needs an IPv6 address in brackets, got "${printable(value)}"`,
    );
  if (v6) return { host: v6[1]!, port: parsePort('--listen', v6[2]!) };
  if (/^\d+$/.test(value)) return { host: MONITOR_DEFAULTS.host, port: parsePort('--listen', value) };
  const m = /^([^:\s]*):(\d+)$/.exec(value);
  if (!m)
    throw new BadOptionError(
      '--listen',
      `--listen must be HOST:PORT like 127.0.0.1:7070 or [::1]:7070, got "${printable(value)}"`,
    );
  const host = m[1] || MONITOR_DEFAULTS.host;
  // The rule `server --host` follows: an IP address or a host name, refused here (exit 2) rather than by the resolver (exit 3).
  if (!(isIP(host) || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)))
    throw new BadOptionError(
      '--listen',
      `--listen must be HOST:PORT with an IP address or a host name, got "${printable(value)}"`,
    );
  return { host, port: parsePort('--listen', m[2]!) };
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description(
      'run the hub that gathers servers, loadgen agents and TCP samples (web page /, ws /ws, /api/snapshot, /metrics, /healthz)',
    )
    .option(
      '--listen <host:port>',
      'address to listen on; a non-loopback address needs a token (one is generated and printed)',
      `${MONITOR_DEFAULTS.host}:${MONITOR_DEFAULTS.port}`,
    )
    .addOption(tokenOption('token every peer and reader must present (see --public-read)'))
    .addOption(tokenFileOption())
    .option('--public-read', 'with a token: let anyone read /api/snapshot, /metrics and ws snapshots without it')
    .option(
      '--allow-host <name>',
      'another Host name this monitor answers to (a DNS name in front of it); repeat for more',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--record <dir>', 'record each run to DIR as JSON lines (read them with kalab report FILE)')
    .addOption(new Option('--heartbeat <ms>', 'ws ping interval; a peer silent for two is lost').hideHelp())
    .addOption(new Option('--snapshot-interval <ms>', 'default viewer snapshot interval').hideHelp())
    .addOption(new Option('--host-name <name>', "this host's name in snapshots (default: os.hostname())").hideHelp())
    .addHelpText(
      'after',
      '\nExamples:\n  kalab monitor\n  kalab monitor --listen 127.0.0.1:7070 --record ./runs\n' +
        '  KALAB_TOKEN="$(openssl rand -hex 16)" kalab monitor --listen 0.0.0.0:7070   # agents on other machines\n' +
        '  kalab monitor --listen 0.0.0.0:7070 --token-file /etc/kalab/token --public-read --allow-host lab.example\n' +
        '\nWith a token every read needs it (Authorization: Bearer T); only Host names it listens on and\n' +
        "its own page's Origin get data (docs/security.md).\n",
    )
    .action(lazyAction(() => import('./monitor-run.js')));
}
