export { GENERATED_NAMES, generateCertificate, loadCertificate, type ServerCertificate } from './certificate.js';
export { CHANNEL_NAMES, channels } from './channels.js';
export {
  CLOSE_REASONS,
  type CloseReason,
  ConnectionLedger,
  type ConnectionProtocol,
  ConnectionRecord,
  type LedgerStats,
  type TlsInfo,
} from './connection-ledger.js';
export { HELLO_BODY, SERVER_DEFAULTS, SERVER_LIMITS, STATS_PATH } from './defaults.js';
export { createLabServer, type LabServer, type LabServerAddress } from './lab-server.js';
export { MonitorReporter, type MonitorReporterOptions } from './monitor-reporter.js';
export {
  type LabServerOptions,
  type OptionNames,
  type ResolvedServerOptions,
  resolveServerOptions,
} from './options.js';
export { formatLedgerSummary } from './summary.js';
