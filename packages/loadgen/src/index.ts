export {
  AGENT_DEFAULTS,
  Agent,
  type AgentCaps,
  type AgentEvents,
  type AgentOptions,
  agentCapsFromFlags,
  capsForHello,
  checkCaps,
  resolveCaps,
  runAgent,
} from './agent.js';
export { Aggregate } from './aggregate.js';
export {
  assembleReport,
  buildReport,
  configOf,
  type LoadReport,
  type ReportFrame,
  transportOf,
} from './build-report.js';
export {
  DEFAULTS,
  defaultWorkers,
  ENGINES,
  ENGINES_RUN,
  type EngineName,
  engineThatRuns,
  LIMITS,
  type RunEngineName,
} from './defaults.js';
export { type FanOutOptions, fanOutOutcome, formatAgents, listAgents, runFanOut } from './fan-out-client.js';
export { type FanOutFrame, mergeFanOut } from './merge-reports.js';
export { type MonitorStreamOptions, streamToMonitor } from './monitor-stream.js';
export {
  FLAGS,
  type LoadgenFlags,
  type LoadOptions,
  optionsFromFlags,
  type ResolvedOptions,
  type ResolvedTls,
  resolveOptions,
} from './options.js';
export { isCertificateError, type RunOutcome, runOutcome } from './outcome.js';
export { formatProgress, formatReport } from './printer.js';
export { checkHeader, checkMethod, parseHeaderLine, type RequestShape, requestShape } from './request-shape.js';
export {
  LoadRun,
  type LoadRunEvents,
  type RunStartInfo,
  runLoad,
  runStartedMessage,
  splitSlices,
  WORKER_URL,
} from './run-load.js';
export { type Counters, errorCode, type StatsEnvelope, WorkerStats } from './worker-stats.js';
