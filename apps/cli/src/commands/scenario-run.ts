import { BadOptionError, CheckFailedError } from '@kalab/core';
import {
  formatScenarioList,
  formatScenarioResult,
  formatScenarioSummary,
  listScenarios,
  runScenario,
  type ScenarioResult,
} from '@kalab/scenarios';
import type { ScenarioFlags } from './scenario.js';

/** `kalab scenario NAME | --list | --all`: calls @kalab/scenarios and prints what its printer returns. */
export async function run(name: string | undefined, flags: ScenarioFlags): Promise<number> {
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
}
