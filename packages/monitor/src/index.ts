export {
  type LocalSampler,
  MONITOR_DEFAULTS,
  MONITOR_LIMITS,
  type MonitorOptionNames,
  type MonitorOptions,
  type ResolvedMonitorOptions,
  resolveMonitorOptions,
} from './defaults.js';
export { type HtmlReportData, htmlReportFromRecording, htmlReportFromRun, renderHtmlReport } from './html-report.js';
export type { HubStats } from './hub-stats.js';
export { createMonitor, type Monitor, type MonitorEvents } from './monitor.js';
export { escapeLabelValue, type MetricsInput, renderMetrics } from './prometheus.js';
export { formatRecording, parseRecording, type Recording, readRecording } from './recording.js';
export {
  RECORDING_SCHEMA_ID,
  type RecordingLine,
  RecordingLineSchema,
  type RunInfo,
  RunInfoSchema,
} from './recording-schema.js';
export type { OriginKind, Refusal } from './request-guard.js';
export type { RunState } from './run-table.js';
export { generateToken, tokensEqual } from './token.js';
