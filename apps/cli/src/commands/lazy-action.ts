import { action } from '../cli-error.js';

/** What a command runs, in a module of its own (`<command>-run.ts`). */
export interface CommandRun<A extends unknown[]> {
  run: (...args: A) => Promise<number | undefined> | number | undefined;
}

/**
 * cli-error's `action` around a module imported when the command runs: registering every
 * command (`kalab --help`) loads commander and a few constants, no package.
 */
export function lazyAction<A extends unknown[]>(load: () => Promise<CommandRun<A>>) {
  return action(async (...args: A) => (await load()).run(...args));
}
