import { BadOptionError } from '@kalab/core';
import { SCENARIOS } from './catalog.js';
import type { ScenarioDefinition } from './scenario.js';

export { SCENARIOS } from './catalog.js';
export * from './scenario.js';
export { describePhase, describeSandbox, phaseGapMs } from './settings.js';
export { expectedOf, judgeScenario, metricValue, OP_SYMBOL, sumObserved } from './verdict.js';

/** A scenario by name; an unknown name is bad input (exit 2) and the message lists the known ones. */
export function getScenario(name: string): ScenarioDefinition {
  const def = SCENARIOS.find((s) => s.name === name);
  if (!def)
    throw new BadOptionError('NAME', `unknown scenario "${name}" (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  return def;
}
