import { SCENARIOS } from './catalog/index.js';

/** One scenario as `kalab scenario --list --json` prints it. */
export interface ScenarioSummary {
  name: string;
  title: string;
  origin: 'article' | 'lab';
  section: string;
  /** The result the article (or the lab) reports, in one line. */
  expected: string;
}

/** Every scenario, the article's first: exactly what `kalab scenario --list --json` prints. */
export function listScenarios(): ScenarioSummary[] {
  return SCENARIOS.map((d) => ({
    name: d.name,
    title: d.title,
    origin: d.origin,
    section: d.section,
    expected: d.expectedText,
  }));
}
