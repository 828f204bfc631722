import { parseInteger } from '@kalab/core';
import { formatRecording, readRecording } from '@kalab/monitor';

/** `kalab report FILE`: a recorded run as text. */
export function run(file: string, flags: { rows: string }): number {
  const rows = parseInteger('--rows', flags.rows, 1, 100_000);
  process.stdout.write(formatRecording(readRecording(file, 'FILE'), { maxRows: rows }));
  return 0;
}
