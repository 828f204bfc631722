import { type Command, Option } from 'commander';
import { lazyAction } from './lazy-action.js';

export interface NetstatFlags {
  source: string;
  port?: string;
  side: string;
  pid?: string;
  json?: boolean;
  watch?: boolean;
  interval: string;
  count?: string;
}

/** Redraws faster than this would measure kalab more than the sockets. */
export const MIN_INTERVAL_MS = 50;

const EXAMPLES = `
Examples:
  kalab netstat --port 8080                 sockets with local or remote port 8080, then counts by state
  kalab netstat --port 8080 --json          { "sockets": [{ "local", "remote", "state" }], "states": {...} }
  kalab netstat --pid 4242                  the table of pid 4242's network namespace (/proc/4242/net)
  kalab netstat --port 8080 --watch         redraw every second until Ctrl-C (--interval 500ms, --count 10)

Without /proc (macOS, BSD) it runs \`netstat -an\` and parses that.`;

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
    .action(lazyAction(() => import('./netstat-run.js')));
}
