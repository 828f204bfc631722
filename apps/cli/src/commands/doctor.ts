import { DOCTOR_DEFAULTS } from '@kalab/doctor/defaults';
import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';
import { type TlsFlags, tlsOption } from './tls-flags.js';

export interface DoctorFlags extends TlsFlags {
  json?: boolean;
  budget: string;
}

const EXAMPLES = `
Examples:
  kalab doctor http://127.0.0.1:8080/              table: keep-alive, idle timeout, max requests, pipelining, HTTP/2, advice
  kalab doctor https://example.com/ --budget 2m     search longer for a long idle timeout
  kalab doctor https://127.0.0.1:8443/ --ca ca.pem  trust an internal CA (-k: any certificate; --servername NAME)
  kalab doctor http://127.0.0.1:8080/ --json        { target, keepAlive, advertisedKeepAlive, idleTimeoutMs,
                                                    maxRequestsPerConnection, pipelining, http2: { h2c, alpn },
                                                    recommendations } (null where unknown or unlimited)

It connects only to the URL given, at most ${DOCTOR_DEFAULTS.maxOpenConnections} connections at once, and stops within --budget.`;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      "probe a server's keep-alive behaviour (idle timeout, max requests, pipelining, HTTP/2) and say how to configure clients",
    )
    .argument('<URL>', 'http:// or https:// URL to probe (only this host and port are contacted)')
    .option('--json', 'print the result as one JSON object')
    .option(
      '--budget <D>',
      'time for the whole probe (30s, 2m; plain number = seconds)',
      `${DOCTOR_DEFAULTS.budgetMs / 1000}s`,
    )
    .addOption(tlsOption('insecure'))
    .addOption(tlsOption('ca'))
    .addOption(tlsOption('servername'))
    .addHelpText('after', EXAMPLES)
    .action(lazyAction(() => import('./doctor-run.js')));
}
