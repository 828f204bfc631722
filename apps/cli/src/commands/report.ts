import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render a run recorded by kalab monitor --record as text')
    .argument('<file>', 'a recorded run (DIR/*.jsonl)')
    .option('--rows <n>', 'at most this many per-second rows', '60')
    .addHelpText('after', '\nExample:\n  kalab report runs/2026-01-01T10-00-00-000Z-3f2a.jsonl\n')
    .action(lazyAction(() => import('./report-run.js')));
}
