export { getScenario, listScenarios, type ScenarioDefinition, type ScenarioObserved } from '@kalab/core';
export { formatScenarioList, formatScenarioResult, formatScenarioSummary } from './printer.js';
export { CHILD_URL, runScenario, scenarioBoundMs } from './run-scenario.js';
export { namespaceSupport } from './sandbox.js';
export type {
  ObservedLatencyMs,
  RunObserved,
  RunScenarioOptions,
  SandboxInfo,
  ScenarioEvent,
  ScenarioResult,
} from './types.js';
