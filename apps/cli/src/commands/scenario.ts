import { BadOptionError, CheckFailedError } from '@kalab/core';
import {
  formatScenarioList,
  formatScenarioResult,
  formatScenarioSummary,
  listScenarios,
  runScenario,
  type ScenarioResult,
} from '@kalab/scenarios';
import type { Command } from 'commander';
import { action } from '../cli-error.js';

interface ScenarioFlags {
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

Each run happens in a private network namespace (unshare -rn): the TCP table and the kernel's
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
    .action(
      action(async (name: string | undefined, flags: ScenarioFlags) => {
        const out = (s: string) => process.stdout.write(s);
        if (flags.list) {
          if (name || flags.all) throw new BadOptionError('--list', '--list takes no scenario name and no --all');
          const list = listScenarios();
          out(flags.json ? `${JSON.stringify(list)}\n` : formatScenarioList(list));
          return 0;
        }
        if (flags.all && name) throw new BadOptionError('--all', '--all runs every scenario; give no name with it');
        if (!flags.all && !name)
          throw new BadOptionError('NAME', 'a scenario name is required (kalab scenario --list shows them), or --all');
        const names = flags.all ? listScenarios().map((d) => d.name) : [name as string];
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.once('SIGINT', onSigint);
        const results: ScenarioResult[] = [];
        const crashed: string[] = [];
        try {
          for (const n of names) {
            if (stop.signal.aborted) break;
            if (!flags.json && flags.all) process.stderr.write(`running ${n}...\n`);
            const run = runScenario(n, {
              faithful: flags.faithful ?? false,
              signal: stop.signal,
              onNote: (text) => process.stderr.write(`kalab scenario: ${text}\n`),
            });
            let r: ScenarioResult;
            if (flags.all) {
              // One broken scenario must not hide the others' results: report it and go on.
              const got = await run.then(
                (x) => x,
                (err: unknown) => err as Error,
              );
              if (got instanceof Error) {
                process.stderr.write(`kalab scenario: ${n}: ${got.message}\n`);
                crashed.push(n);
                continue;
              }
              r = got;
            } else r = await run;
            results.push(r);
            if (!flags.json) out(`${formatScenarioResult(r)}\n`);
          }
        } finally {
          process.off('SIGINT', onSigint);
        }
        if (flags.json) out(`${JSON.stringify(flags.all ? results : results[0])}\n`);
        else if (flags.all) out(formatScenarioSummary(results));
        const failed = [...results.filter((r) => !r.pass).map((r) => r.scenario), ...crashed];
        if (failed.length > 0) {
          throw new CheckFailedError(`${failed.join(', ')}: the result does not match the expected one`);
        }
        return 0;
      }),
    );
}
