import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render a run recorded by kalab monitor --record as text, JSON or one HTML file')
    .argument('<file>', 'a recorded run (DIR/*.jsonl)')
    .option('--rows <n>', 'at most this many per-second rows', '60')
    .option('--json', "print the run's kalab.report/v1 JSON (exit 1 when the recording holds none)")
    .option('--html <file>', 'write the run as one self-contained HTML file (charts and the report)')
    .addHelpText(
      'after',
      '\nExample:\n  kalab report runs/2026-01-01T10-00-00-000Z-3f2a.jsonl\n  kalab report runs/2026-01-01T10-00-00-000Z-3f2a.jsonl --html run.html\n',
    )
    .action(lazyAction(() => import('./report-run.js')));
}
