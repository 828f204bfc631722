import { LAB_VERSION } from '@kalab/core/version';
import { Command } from 'commander';
import { reportError } from './cli-error.js';
import { registerCommands } from './commands/index.js';

/**
 * commander's own usage errors (unknown option, missing argument, excess arguments) in the
 * one-line `kalab: ...` form of every other error, with the hint on the same line.
 */
function oneLineUsageErrors(command: Command, name: string): void {
  command.configureOutput({
    outputError: (text, write) => {
      const message = text
        .replace(/^error:\s*/, '')
        .replace(/\s*\n\s*/g, ' ')
        .trim();
      write(`kalab: ${message} (see ${name} --help)\n`);
    },
  });
}

/**
 * Builds the `kalab` program. Commands live one per file in ./commands; this only wires them.
 * Registering loads commander and a few constants only: each command imports its packages when
 * it runs (./commands/lazy-action.ts), so `kalab --help` loads none (test/startup.test.ts).
 */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('kalab')
    .description('keepalive-lab: see what HTTP clients and servers do with TCP connections')
    .version(LAB_VERSION)
    .exitOverride();
  oneLineUsageErrors(program, 'kalab');
  registerCommands(program);
  for (const command of program.commands) oneLineUsageErrors(command, `kalab ${command.name()}`);
  return program;
}

export async function main(argv: string[]): Promise<number | undefined> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    return reportError(err);
  }
  return undefined;
}
