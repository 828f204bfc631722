export { createMonitor, type Monitor, type MonitorEvents } from './monitor.js';
export {
  MONITOR_DEFAULTS,
  type LocalSampler,
  type MonitorOptions,
  type ResolvedMonitorOptions,
  resolveMonitorOptions,
} from './defaults.js';
export type { HubStats } from './hub.js';
export type { RunState } from './aggregator.js';
export { renderMetrics, escapeLabelValue } from './prometheus.js';
export { RECORDING_SCHEMA_ID, type RecordingLine, type RunInfo } from './recorder.js';
export { readRecording, parseRecording, formatRecording, type Recording } from './recording.js';
export { generateToken, tokensEqual } from './token.js';
