import { SERVER_DEFAULTS } from '@kalab/server/defaults';
import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';
import { type TokenFlags, tokenFileOption, tokenOption } from './token-option.js';

export interface ServerFlags {
  host: string;
  port: string;
  keepAliveTimeout?: string;
  headersTimeout?: string;
  requestTimeout?: string;
  maxRequestsPerSocket?: string;
  close?: boolean;
  delayUs?: string;
  bodyBytes?: string;
  h2cPort?: string;
  monitor?: string;
  token?: string;
  tokenFile?: string;
  tokenFrom?: TokenFlags['tokenFrom'];
  tls?: boolean;
  cert?: string;
  key?: string;
  h2?: boolean;
}

export function registerServer(program: Command): void {
  program
    .command('server')
    .description(
      'run the instrumented keep-alive server (GET / answers "Hello world"; GET /_kalab/stats is its connection ledger)',
    )
    .option('--host <host>', 'address to listen on', SERVER_DEFAULTS.host)
    .option('--port <port>', 'port to listen on (0 = any free port)', String(SERVER_DEFAULTS.port))
    .option('--keep-alive-timeout <ms>', 'close a keep-alive connection idle this long (500ms, 5s; plain number = ms)')
    .option('--headers-timeout <ms>', 'time allowed to receive complete request headers')
    .option('--request-timeout <ms>', 'time allowed to receive a whole request')
    .option(
      '--max-requests-per-socket <n>',
      'answer the n-th request on a connection with Connection: close (0 = unlimited)',
    )
    .option('--close', 'answer every request with Connection: close')
    .option('--delay-us <n>', 'delay each response by n microseconds (best effort, never shorter)')
    .option('--body-bytes <n>', 'response body size in bytes (default: "Hello world")')
    .option('--h2c-port <port>', 'also listen for HTTP/2 cleartext (prior knowledge) on this port')
    .option('--tls', 'serve HTTPS (a certificate for 127.0.0.1, ::1 and localhost is generated at start)')
    .option('--cert <file>', 'serve HTTPS with this PEM certificate (chain), with --key')
    .option('--key <file>', "the PEM private key of --cert's certificate")
    .option('--h2', 'with --tls or --cert: also offer HTTP/2 by ALPN on the TLS port')
    .option('--monitor <url>', 'publish the ledger to a monitor (ws://HOST:PORT/ws)')
    .addOption(tokenOption('token for --monitor'))
    .addOption(tokenFileOption())
    .addHelpText(
      'after',
      '\nExamples:\n  kalab server --port 8080\n  kalab server --keep-alive-timeout 200 --max-requests-per-socket 100\n' +
        '  kalab server --port 0 --h2c-port 0 --delay-us 50\n  kalab server --monitor ws://127.0.0.1:7070/ws --token secret\n' +
        '  kalab server --tls --h2 --port 8443\n  kalab server --cert cert.pem --key key.pem --port 8443\n',
    )
    .action(lazyAction(() => import('./server-run.js')));
}
