/** Building blocks of the scenario catalog: the article's client and server, the checks every scenario shares. */
import type { ClientSettings, ScenarioCheck } from './scenario.js';

/** Go's http.Transport default MaxIdleConnsPerHost (DefaultMaxIdleConnsPerHost). */
export const GO_DEFAULT_MAX_IDLE_PER_HOST = 2;

export const client = (over: Partial<ClientSettings>): ClientSettings => ({
  requests: 10,
  concurrency: 1,
  keepAlive: true,
  maxIdle: GO_DEFAULT_MAX_IDLE_PER_HOST,
  consumeBody: true,
  gapMs: 20,
  closeAtEnd: 'client',
  ...over,
});

/** The lab's connection count must be what the namespace's kernel saw: one SYN and one TIME_WAIT each. */
export const kernelAgrees = (timeWaitSide: 'client' | 'server'): ScenarioCheck[] => [
  {
    metric: 'synSent',
    op: 'eq',
    value: { metric: 'connectionsOpened' },
    says: 'every connection the lab counted is one SYN the kernel sent (ActiveOpens)',
    namespaceOnly: true,
  },
  {
    metric: `timeWait.${timeWaitSide}`,
    op: 'eq',
    value: { metric: 'connectionsOpened' },
    says: `every connection ends in TIME_WAIT on the ${timeWaitSide} side`,
  },
];

/** One TIME_WAIT per connection, whichever side closed first. */
export const TIME_WAIT_TOTAL = 'timeWait.client+timeWait.server';

export const ARTICLE_SERVER = { bodyBytes: 11, delayUs: 50 } as const;
