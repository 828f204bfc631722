export { getScenario, type ScenarioDefinition, type ScenarioObserved } from './catalog/index.js';
export { listScenarios, type ScenarioSummary } from './list.js';
export { formatScenarioList, formatScenarioResult, formatScenarioSummary } from './printer.js';
export { CHILD_URL, runScenario, scenarioBoundMs } from './run-scenario.js';
export { namespaceSupport } from './sandbox.js';
export { statesBySide } from './tcp-view.js';
export type {
  ObservedLatencyMs,
  RunObserved,
  RunScenarioOptions,
  SandboxInfo,
  ScenarioEvent,
  ScenarioResult,
} from './types.js';
