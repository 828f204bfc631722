export { createLabServer, type LabServer, type LabServerAddress } from './lab-server.js';
export { resolveServerOptions, type LabServerOptions, type ResolvedServerOptions } from './options.js';
export {
  ConnectionLedger,
  ConnectionRecord,
  CLOSE_REASONS,
  type CloseReason,
  type ConnectionProtocol,
  type LedgerStats,
} from './connection-ledger.js';
export { channels, CHANNEL_NAMES } from './channels.js';
export { SERVER_DEFAULTS, MONITOR_DEFAULTS, STATS_PATH, HELLO_BODY } from './defaults.js';
export { formatLedgerSummary } from './summary.js';
export { MonitorReporter, type MonitorReporterOptions } from './monitor-reporter.js';
