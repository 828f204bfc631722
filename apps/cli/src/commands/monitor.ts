import type { Command } from 'commander';
import { UnsupportedError } from '@kalab/core';
import { action } from '../cli-error.js';

// Placeholder until the monitor issue lands.
export function registerMonitor(program: Command): void {
  program.command('monitor').description('(not built yet)').allowUnknownOption().action(action(() => {
    throw new UnsupportedError('kalab monitor is not built yet');
  }));
}

export function registerReport(program: Command): void {
  program.command('report').description('(not built yet)').allowUnknownOption().action(action(() => {
    throw new UnsupportedError('kalab report is not built yet');
  }));
}
