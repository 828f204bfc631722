import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';

export interface ScenarioFlags {
  list?: boolean;
  all?: boolean;
  json?: boolean;
  faithful?: boolean;
}

const EXAMPLES = `
Examples:
  kalab scenario --list                     the article's experiments and the lab's own
  kalab scenario seq-unread-body            10 sequential requests, bodies unread: 10 connections
  kalab scenario seq-read-body --faithful   the same with the article's 1 s between requests
  kalab scenario port-exhaustion --json     { scenario, expected, observed: { connectionsOpened, synSent, timeWait, errors, ... }, pass }
  kalab scenario --all                      every scenario, one after another (15-30 s), then a summary

Each run happens in a private network namespace (unshare -n as root, -rn otherwise): the TCP table and the kernel's
SYN counter hold only the lab's own sockets. Exit 1 when a result does not match the expected one.`;

/** `kalab scenario NAME | --list | --all`: parses, calls @kalab/scenarios and prints what its printer returns. */
export function registerScenario(program: Command): void {
  program
    .command('scenario')
    .description(
      "run one of the article's experiments (or the lab's own) in a private network namespace and judge the result",
    )
    .argument('[name]', 'scenario name (see --list)')
    .option('--list', 'list the scenarios')
    .option('--all', 'run every scenario')
    .option('--json', 'print JSON (one result; an array with --all)')
    .option('--faithful', "use the article's timing (1 s between sequential requests) instead of short gaps")
    .addHelpText('after', EXAMPLES)
    .action(lazyAction(() => import('./scenario-run.js')));
}
