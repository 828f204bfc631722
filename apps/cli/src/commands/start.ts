import type { Command } from 'commander';
import { DASHBOARD_DEFAULTS } from '../dashboard/defaults.js';
import { lazyAction } from './lazy-action.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('open the terminal dashboard with an embedded monitor and server (also `pnpm start`)')
    .option(
      '--monitor-port <port>',
      'first port tried for the embedded monitor',
      String(DASHBOARD_DEFAULTS.monitorPort),
    )
    .action(lazyAction(() => import('./start-run.js')));
}
