import { ExitCodes, parseInteger } from '@kalab/core';
import { formatRecording, htmlReportFromRecording, readRecording, renderHtmlReport } from '@kalab/monitor';
import { writeHtml } from './html-file.js';

/** `kalab report FILE`: a recorded run as text, its report as JSON, or one HTML file. */
export function run(file: string, flags: { rows: string; json?: boolean; html?: string }): number {
  const rows = parseInteger('--rows', flags.rows, 1, 100_000);
  const rec = readRecording(file, 'FILE');
  if (flags.html !== undefined) writeHtml('--html', flags.html, renderHtmlReport(htmlReportFromRecording(rec)));
  if (flags.json) {
    const report = rec.summary?.report;
    if (!report) {
      process.stderr.write(`kalab: ${file} holds no report: the run did not finish while it was recorded\n`);
      return ExitCodes.CHECK_FAILED;
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (flags.html === undefined) process.stdout.write(formatRecording(rec, { maxRows: rows }));
  return 0;
}
