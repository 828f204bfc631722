import { BadOptionError, parseDuration } from '@kalab/core';
import { createMonitor, MONITOR_LIMITS, type MonitorOptionNames, type MonitorOptions } from '@kalab/monitor';
import { waitForSignal } from '../signals.js';
import { type MonitorFlags, parseListen } from './monitor.js';

/** Option of @kalab/monitor → the flag a user types; validators take it, so every message names the flag. */
const FLAG_OF = {
  host: '--listen',
  port: '--listen',
  token: '--token',
  allowHosts: '--allow-host',
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
  if (flags.publicRead) {
    if (flags.token === undefined)
      throw new BadOptionError(
        '--public-read',
        '--public-read goes with a token (--token, --token-file or KALAB_TOKEN): without one, reads are open already',
      );
    o.publicRead = true;
  }
  if (flags.allowHost !== undefined) o.allowHosts = flags.allowHost;
  if (flags.record !== undefined) {
    if (flags.record === '') throw new BadOptionError('--record', '--record needs a directory, got ""');
    o.recordDir = flags.record;
  }
  if (flags.heartbeat !== undefined) o.heartbeatMs = ms('heartbeatMs', flags.heartbeat);
  if (flags.snapshotInterval !== undefined) o.snapshotIntervalMs = ms('snapshotIntervalMs', flags.snapshotInterval);
  if (flags.hostName !== undefined) o.hostName = flags.hostName;
  return o;
}

/** `kalab monitor`: run the hub until SIGINT/SIGTERM, saying where it listens and each run that ends. */
export async function run(flags: MonitorFlags): Promise<number> {
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
  process.stdout.write(`web dashboard ${monitor.httpUrl}/\n`);
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
}
