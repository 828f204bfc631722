import { parseInteger } from '@kalab/core';
import { formatRecording, readRecording } from '@kalab/monitor';
import type { Command } from 'commander';
import { action } from '../cli-error.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render a run recorded by kalab monitor --record as text')
    .argument('<file>', 'a recorded run (DIR/*.jsonl)')
    .option('--rows <n>', 'at most this many per-second rows', '60')
    .addHelpText('after', '\nExample:\n  kalab report runs/2026-01-01T10-00-00-000Z-3f2a.jsonl\n')
    .action(
      action((file: string, flags: { rows: string }) => {
        const rows = parseInteger('--rows', flags.rows, 1, 100_000);
        process.stdout.write(formatRecording(readRecording(file), { maxRows: rows }));
        return 0;
      }),
    );
}
