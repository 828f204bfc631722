import { BadOptionError, parseDuration, parseInteger, parseUrl, readLimited } from '@kalab/core';
import {
  createLabServer,
  formatLedgerSummary,
  type LabServerOptions,
  MonitorReporter,
  type OptionNames,
  resolveServerOptions,
  SERVER_LIMITS,
} from '@kalab/server';
import { waitForSignal } from '../signals.js';
import type { ServerFlags } from './server.js';

/** Option of @kalab/server → the flag a user types; validators take it, so every message names the flag. */
const FLAG_OF = {
  host: '--host',
  port: '--port',
  keepAliveTimeout: '--keep-alive-timeout',
  headersTimeout: '--headers-timeout',
  requestTimeout: '--request-timeout',
  maxRequestsPerSocket: '--max-requests-per-socket',
  delayUs: '--delay-us',
  bodyBytes: '--body-bytes',
  h2cPort: '--h2c-port',
  tls: '--tls',
  cert: '--cert',
  key: '--key',
  h2: '--h2',
} as const satisfies OptionNames;

type Limited = keyof typeof FLAG_OF & keyof typeof SERVER_LIMITS;

/** A certificate or key file is small: 1 MiB is far above any real one. */
const PEM_MAX_BYTES = 1024 * 1024;

/** A PEM file named by --cert or --key: a missing, unreadable or too large one is exit 2 naming the flag. */
function pemFile(flag: '--cert' | '--key', file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  return readLimited(flag, file, PEM_MAX_BYTES).toString('utf8');
}

/** A time flag (500ms, 5s; plain number = ms) within the server's own limit, quoting what was typed. */
function ms(key: Limited, value: string | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(parseDuration(FLAG_OF[key], value, 'ms', SERVER_LIMITS[key]));
}

function int(key: Limited, value: string | undefined): number | undefined {
  const { min, max } = SERVER_LIMITS[key];
  return value === undefined ? undefined : parseInteger(FLAG_OF[key], value, min, max);
}

/** Flags → createLabServer options, checked against SERVER_LIMITS. Throws BadOptionError naming the flag (exit 2). */
export function serverOptionsFromFlags(flags: ServerFlags): LabServerOptions {
  const options: LabServerOptions = {
    host: flags.host,
    port: int('port', flags.port),
    keepAliveTimeout: ms('keepAliveTimeout', flags.keepAliveTimeout),
    headersTimeout: ms('headersTimeout', flags.headersTimeout),
    requestTimeout: ms('requestTimeout', flags.requestTimeout),
    maxRequestsPerSocket: int('maxRequestsPerSocket', flags.maxRequestsPerSocket),
    close: flags.close === true,
    delayUs: int('delayUs', flags.delayUs),
    bodyBytes: int('bodyBytes', flags.bodyBytes),
    h2cPort: int('h2cPort', flags.h2cPort),
    tls: flags.tls === true ? true : undefined,
    h2: flags.h2 === true ? true : undefined,
  };
  // --cert without --key (or the other way round) is refused before any file is read.
  if ((flags.cert === undefined) !== (flags.key === undefined))
    throw new BadOptionError(
      flags.cert === undefined ? '--key' : '--cert',
      flags.cert === undefined ? '--key needs --cert' : '--cert needs --key',
    );
  options.cert = pemFile('--cert', flags.cert);
  options.key = pemFile('--key', flags.key);
  for (const key of Object.keys(options) as (keyof LabServerOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  // The rules between options (headers <= request timeout, h2c port != port) in the flags' names.
  resolveServerOptions(options, FLAG_OF);
  return options;
}

/** `kalab server`: listen, publish the ledger to a monitor if asked, print the ledger's summary on the way out. */
export async function run(flags: ServerFlags): Promise<number> {
  const options = serverOptionsFromFlags(flags);
  const monitorUrl =
    flags.monitor === undefined ? undefined : parseUrl('--monitor', flags.monitor, ['ws:', 'wss:']).href;
  if (flags.token !== undefined && monitorUrl === undefined)
    throw new BadOptionError('--token', '--token needs --monitor');
  const lab = createLabServer(options);
  const signal = waitForSignal();
  const address = await lab.listen();
  process.stdout.write(`listening on ${address.url}\n`);
  if (address.h2cUrl) process.stdout.write(`h2c listening on ${address.h2cUrl}\n`);
  const cert = address.certificate;
  if (cert)
    process.stdout.write(
      `tls: ${cert.generated ? 'self-signed certificate generated for' : 'certificate for'} ${cert.subjectAltName || 'no subjectAltName'}; ALPN ${options.h2 ? 'h2, http/1.1' : 'http/1.1'}\n` +
        `tls: SHA-256 fingerprint ${cert.fingerprint256}${cert.generated ? ' (clients: kalab loadgen -k, or curl -k)' : ''}\n`,
    );

  let reporter: MonitorReporter | undefined;
  if (monitorUrl) {
    reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: monitorUrl,
      token: flags.token,
      port: address.port,
    });
    // Said once per distinct failure, at once; the server serves either way and retries.
    let lastProblem = '';
    reporter.link.on('error', (err) => {
      const what = (err as NodeJS.ErrnoException).code ?? err.message;
      if (what !== lastProblem)
        process.stderr.write(`kalab: monitor ${monitorUrl}: cannot connect (${what}); serving anyway, retrying\n`);
      lastProblem = what;
    });
    reporter.link.on('connected', () => {
      lastProblem = '';
      process.stderr.write(`monitor ${monitorUrl} connected\n`);
    });
    reporter.link.on('disconnected', () => process.stderr.write(`monitor ${monitorUrl} disconnected, reconnecting\n`));
    reporter.link.on('fatal', (err) => process.stderr.write(`kalab: ${err.message}\n`));
    reporter.start();
  }

  const received = await signal;
  process.stderr.write(`${received}: closing (idle connections now, in-flight ones after their response)\n`);
  // A second signal stops waiting for in-flight requests.
  const force = () => lab.http.closeAllConnections();
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  const stats = await lab.close();
  await reporter?.close();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  process.stdout.write(`${formatLedgerSummary(stats, lab.ledger.errors)}\n`);
  return 0;
}
