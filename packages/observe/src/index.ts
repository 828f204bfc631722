export { buildObserveReport, type CounterPair, type ReportInput, type ServedConnection } from './build-report.js';
export { ConnectionTracker, type TrackerSample, type TrackerTick } from './connection-tracker.js';
export { MIN_EPHEMERAL_PORT, MIN_INTERVAL_MS, OBSERVE_DEFAULTS } from './defaults.js';
export { type ObserveStream, type ObserveStreamOptions, streamObservation } from './monitor-stream.js';
export { type ObserveCommandOptions, type ObserveTick, observeCommand } from './observe-command.js';
export { buildTracedReport, type ObserveTracedOptions, observeTraced } from './observe-ebpf.js';
export { type ObservePidOptions, observePid } from './observe-pid.js';
export { type CaptureView, readCapture } from './pcap.js';
export { formatObserveReport } from './printer.js';
export { ProcessSockets } from './process-sockets.js';
export { REDACTED, redactArgv } from './redact-argv.js';
export {
  type ConnectionLife,
  ConnectionLifeSchema,
  OBSERVE_SCHEMA_ID,
  type ObserveReport,
  ObserveReportSchema,
  type PacketView,
  type RemoteSummary,
  type TimelineEntry,
} from './report.js';
export { shellJoin } from './shell-words.js';
export {
  checkCgroup,
  EbpfLineReader,
  ebpfMissing,
  parseTracer,
  resolveTracer,
  TRACER_ENV,
  type TracedSocket,
  type TracerChoice,
} from './tracer-ebpf.js';
