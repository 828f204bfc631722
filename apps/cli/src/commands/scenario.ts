import type { Command } from 'commander';
import { UnsupportedError } from '@kalab/core';
import { action } from '../cli-error.js';

// Placeholder until its issue lands: the command exists so `kalab --help` lists it.
export function registerScenario(program: Command): void {
  program
    .command('scenario')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(action(() => {
      throw new UnsupportedError('kalab scenario is not built yet');
    }));
}
