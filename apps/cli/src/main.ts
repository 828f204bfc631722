import { LAB_VERSION } from '@kalab/core';
import { Command } from 'commander';
import { reportError } from './cli-error.js';
import { registerCommands } from './commands/index.js';

/** Builds the `kalab` program. Commands live one per file in ./commands; this only wires them. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('kalab')
    .description('keepalive-lab: see what HTTP clients and servers do with TCP connections')
    .version(LAB_VERSION)
    .showHelpAfterError('(run kalab --help for usage)')
    .exitOverride();
  registerCommands(program);
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
