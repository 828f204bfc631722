import type { Command } from 'commander';
import { action } from '../cli-error.js';
import { resolveToken, type TokenFlags, takesToken } from './token-option.js';

/** What a command runs, in a module of its own (`<command>-run.ts`). */
export interface CommandRun<A extends unknown[]> {
  run: (...args: A) => Promise<number | undefined> | number | undefined;
}

/**
 * cli-error's `action` around a module imported when the command runs: registering every
 * command (`kalab --help`) loads commander and a few constants, no package. A command with
 * the token options gets its token resolved (--token, --token-file, KALAB_TOKEN) first.
 */
export function lazyAction<A extends unknown[]>(load: () => Promise<CommandRun<A>>) {
  return action(async (...args: A) => {
    // commander passes the options object, then the command, after the arguments.
    const cmd = args.at(-1) as Command | undefined;
    if (cmd && typeof cmd.opts === 'function' && takesToken(cmd)) await resolveToken(args.at(-2) as TokenFlags);
    return (await load()).run(...args);
  });
}
