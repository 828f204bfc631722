export { runScenario, scenarioBoundMs, CHILD_URL } from './run-scenario.js';
export { listScenarios, getScenario, type ScenarioDefinition, type ScenarioObserved } from '@kalab/core';
export { formatScenarioList, formatScenarioResult, formatScenarioSummary } from './printer.js';
export { namespaceSupport } from './sandbox.js';
export type { RunScenarioOptions, SandboxInfo, ScenarioEvent, ScenarioResult } from './types.js';
