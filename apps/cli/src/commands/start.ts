import type { Command } from 'commander';
import { UnsupportedError } from '@kalab/core';
import { action } from '../cli-error.js';

// Until the dashboard issue lands, `kalab start` (and `pnpm start`) prints the command list.
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('open the terminal dashboard with an embedded monitor and server (also `pnpm start`)')
    .action(action(() => {
      process.stdout.write('The dashboard is not built yet. Commands available now:\n\n');
      program.outputHelp();
      return 0;
    }));
}

export function registerDashboard(program: Command): void {
  program.command('dashboard').description('(not built yet)').allowUnknownOption().action(action(() => {
    throw new UnsupportedError('kalab dashboard is not built yet');
  }));
}
