import { BadOptionError, parseDuration, parsePort } from '@kalab/core';
import {
  createMonitor,
  MONITOR_DEFAULTS,
  MONITOR_LIMITS,
  type MonitorOptionNames,
  type MonitorOptions,
} from '@kalab/monitor';
import { type Command, Option } from 'commander';
import { action } from '../cli-error.js';
import { waitForSignal } from '../signals.js';

interface MonitorFlags {
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

/** Option of @kalab/monitor → the flag a user types; validators take it, so every message names the flag. */
const FLAG_OF = {
  host: '--listen',
  port: '--listen',
  token: '--token',
  recordDir: '--record',
  heartbeatMs: '--heartbeat',
  snapshotIntervalMs: '--snapshot-interval',
  hostName: '--host-name',
} as const satisfies MonitorOptionNames;

/** A time flag (plain number = ms) within the monitor's own limit, quoting what was typed. */
function ms(key: 'heartbeatMs' | 'snapshotIntervalMs', value: string): number {
  return Math.round(parseDuration(FLAG_OF[key], value, 'ms', MONITOR_LIMITS[key]));
}

/** Flags → createMonitor options, checked against MONITOR_LIMITS; errors name the flag (exit 2). */
export function monitorOptionsFromFlags(flags: MonitorFlags): MonitorOptions {
  const { host, port } = parseListen(flags.listen);
  const o: MonitorOptions = { host, port };
  if (flags.token !== undefined) {
    const { min, max } = MONITOR_LIMITS.tokenLength;
    // The token is a secret: the message gives its length, not its text.
    if (flags.token.length < min || flags.token.length > max)
      throw new BadOptionError(
        '--token',
        `--token must be ${min} to ${max} characters, got ${flags.token.length} character${flags.token.length === 1 ? '' : 's'}`,
      );
    o.token = flags.token;
  }
  if (flags.record !== undefined) {
    if (flags.record === '') throw new BadOptionError('--record', '--record needs a directory, got ""');
    o.recordDir = flags.record;
  }
  if (flags.heartbeat !== undefined) o.heartbeatMs = ms('heartbeatMs', flags.heartbeat);
  if (flags.snapshotInterval !== undefined) o.snapshotIntervalMs = ms('snapshotIntervalMs', flags.snapshotInterval);
  if (flags.hostName !== undefined) o.hostName = flags.hostName;
  return o;
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
    .action(
      action(async (flags: MonitorFlags) => {
        const signal = waitForSignal();
        const monitor = await createMonitor(monitorOptionsFromFlags(flags), FLAG_OF);
        monitor.on('warning', (err) => process.stderr.write(`kalab monitor: ${err.message}\n`));
        monitor.on('run-ended', (run, file) => {
          const what =
            run.outcome === 'completed' && run.report
              ? `${run.report.requests.sent} requests, ${run.report.connections.opened} connections`
              : run.outcome;
          process.stdout.write(`run ${run.id} on ${run.source.name}: ${what}${file ? `; recorded to ${file}` : ''}\n`);
        });
        process.stdout.write(
          `monitor listening on ${monitor.url}  (${monitor.httpUrl}/api/snapshot, ${monitor.httpUrl}/metrics)\n`,
        );
        const bound = monitor.options.host;
        if (bound === '0.0.0.0' || bound === '::')
          process.stdout.write(
            `bound to every interface: agents elsewhere use ws://<this host's address>:${monitor.port}/ws\n`,
          );
        if (monitor.options.tokenGenerated)
          process.stdout.write(`token ${monitor.token}  (generated: sources connect with --token ${monitor.token})\n`);
        if (monitor.options.recordDir) process.stdout.write(`recording runs to ${monitor.options.recordDir}\n`);
        await signal;
        await monitor.close();
        return 0;
      }),
    );
}
