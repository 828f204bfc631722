import { ARTICLE_SCENARIOS } from './article-scenarios.js';
import { LAB_SCENARIOS } from './lab-scenarios.js';
import type { ScenarioDefinition } from './scenario.js';
import { TLS_SCENARIOS } from './tls-scenarios.js';

/** Every scenario: the article's experiments first, then the lab's own (the order `kalab scenario --list` prints). */
export const SCENARIOS: readonly ScenarioDefinition[] = [...ARTICLE_SCENARIOS, ...LAB_SCENARIOS, ...TLS_SCENARIOS];
