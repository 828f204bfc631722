import type { Command } from 'commander';
import { UnsupportedError } from '@kalab/core';
import { action } from '../cli-error.js';

// Placeholder until its issue lands: the command exists so `kalab --help` lists it.
export function registerNetstat(program: Command): void {
  program
    .command('netstat')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(action(() => {
      throw new UnsupportedError('kalab netstat is not built yet');
    }));
}
