export { runLoad, LoadRun, splitSlices, WORKER_URL, type LoadRunEvents, type RunStartInfo } from './run-load.js';
export {
  resolveOptions,
  optionsFromFlags,
  FLAGS,
  type LoadOptions,
  type ResolvedOptions,
  type LoadgenFlags,
} from './options.js';
export { DEFAULTS, ENGINES, defaultWorkers, type EngineName } from './defaults.js';
export { buildReport, configOf, transportOf, type LoadReport } from './build-report.js';
export { formatReport, formatProgress } from './printer.js';
export { streamToMonitor, type MonitorStreamOptions } from './monitor-stream.js';
export * from './doctor/index.js';
export {
  runAgent,
  Agent,
  AGENT_DEFAULTS,
  agentCapsFromFlags,
  checkCaps,
  resolveCaps,
  type AgentCaps,
  type AgentEvents,
  type AgentOptions,
} from './agent.js';
