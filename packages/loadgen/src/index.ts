export {
  AGENT_DEFAULTS,
  Agent,
  type AgentCaps,
  type AgentEvents,
  type AgentOptions,
  agentCapsFromFlags,
  checkCaps,
  resolveCaps,
  runAgent,
} from './agent.js';
export { buildReport, configOf, type LoadReport, transportOf } from './build-report.js';
export { DEFAULTS, defaultWorkers, ENGINES, type EngineName } from './defaults.js';
export * from './doctor/index.js';
export { type MonitorStreamOptions, streamToMonitor } from './monitor-stream.js';
export {
  FLAGS,
  type LoadgenFlags,
  type LoadOptions,
  optionsFromFlags,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
export { formatProgress, formatReport } from './printer.js';
export { LoadRun, type LoadRunEvents, type RunStartInfo, runLoad, splitSlices, WORKER_URL } from './run-load.js';
