import type { LoadgenFlags } from '@kalab/loadgen';
import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';
import type { FanOutFlags } from './loadgen-fan-out.js';

export interface LoadgenCommandFlags extends LoadgenFlags, FanOutFlags {
  json?: boolean;
  monitor?: string;
  token?: string;
  name?: string;
  agent?: boolean;
  maxConnections?: string;
  maxDuration?: string;
  allowTarget?: string;
  maxBodyBytes?: string;
}

/** `kalab loadgen URL ...`: parse flags, wire runLoad to the printer, the progress line and a monitor. */
export function registerLoadgen(program: Command): void {
  program
    .command('loadgen')
    .description('generate HTTP load and report what happened to the connections (new, reused, TIME_WAIT, errors)')
    .argument(
      '[url]',
      'target URL, e.g. http://127.0.0.1:8080/ or https://127.0.0.1:8443/ (any non-loopback host must be typed here)',
    )
    .option(
      '-c, --connections <n>',
      'connections (net, undici, --no-keepalive), concurrency = Agent maxSockets (http), sessions (h2)',
      undefined,
    )
    .option('--streams <n>', 'h2: concurrent streams per session (default 100, capped by the server)')
    .option('-n, --requests <n>', 'total requests (bound)')
    .option('-d, --duration <d>', 'duration bound: 10s, 500ms, 2m or seconds (default 10s when neither -n nor -d)')
    .option('-R, --rate <r>', 'open model: requests per second, latency from each intended send time')
    .option('-w, --workers <n>', 'worker threads (default: available cores, at most -c)')
    .option('--engine <name>', 'net (default: lean raw-socket HTTP/1.1) | undici | http | h2 (h2c alias)')
    .option(
      '--no-keepalive',
      'one connection per request: the lean churn engine (report engine "churn") unless --engine http',
    )
    .option(
      '--close-by <side>',
      'with --no-keepalive: client (default; client holds TIME_WAIT) or server (sends Connection: close, as hey)',
    )
    .option('--max-idle <n>', 'idle connections kept by --engine http (Agent maxFreeSockets; Go MaxIdleConnsPerHost)')
    .option('--no-consume-body', "never read response bodies (as the article's first Go program)")
    .option('-p, --pipelining <n>', 'requests in flight per connection (net, undici)')
    .option(
      '--timeout <d>',
      'per-request timeout: no complete response within it fails as ETIMEDOUT and closes its connection; 500ms, 10s or seconds (default 10s)',
    )
    .option('--local-address <list>', 'source addresses, comma-separated, used in turn per connection')
    // Request shaping and TLS: every engine sends the same request.
    .option('-m, --method <method>', 'request method (default GET)')
    .option(
      '-H, --header <header>',
      "request header 'Name: value', repeatable (Host may be overridden)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('-b, --body <text>', 'request body, sent with Content-Length')
    .option('--body-file <file>', 'request body read once from a file (at most 8 MiB)')
    .option('-k, --insecure', 'https://: accept any certificate (self-signed, wrong name), as curl -k')
    .option('--ca <file>', 'https://: trust the PEM certificates in this file')
    .option('--servername <name>', 'https://: SNI name and the name the certificate must carry')
    .option('--tls-resume <on|off>', "https://: resume TLS sessions (default: the engine library's own default)")
    .option('--json', 'print the kalab.report/v1 JSON as the last line of stdout')
    .option('--monitor <url>', 'stream ticks and the report to a monitor (ws://HOST:PORT/ws)')
    .option('--token <t>', 'monitor token')
    .option('--name <name>', "this source's name in the monitor")
    .option('--agent', 'wait for runs from --monitor instead of running one (on this or another machine)')
    .option('--max-connections <n>', 'with --agent: refuse runs asking for more connections (default 1000)')
    .option('--max-duration <d>', 'with --agent: refuse longer runs, stop any run at this bound (default 60s)')
    .option('--allow-target <list>', 'with --agent: HOST[:PORT],... a monitor may aim at (default: loopback only)')
    .option('--max-body-bytes <n>', 'with --agent: refuse runs whose request body is larger (default 65536)')
    // Fan-out: one run split over a monitor's agents; the mode lives in loadgen-fan-out.ts.
    .option('--via <url>', 'run on the agents of the monitor at ws://HOST:PORT/ws (with --agents or --list-agents)')
    .option('--agents <n>', 'with --via: how many idle agents share the run (a number, or all)')
    .option('--list-agents', "with --via: print the monitor's agents, their caps and state")
    .action(lazyAction(() => import('./loadgen-run.js')));
}
