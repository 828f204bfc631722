import type {
  CheckOp,
  CheckResult,
  ScenarioCheck,
  ScenarioDefinition,
  ScenarioObserved,
  ScenarioVerdict,
} from './scenario.js';

/**
 * Reads a dotted path (`phases.race.requests.failed`) from an observed result, or the sum of
 * several joined by `+` (`timeWait.client+timeWait.server`); null when one is absent.
 */
export function metricValue(observed: ScenarioObserved, path: string): number | null {
  if (path.includes('+')) {
    let sum = 0;
    for (const part of path.split('+')) {
      const v = metricValue(observed, part.trim());
      if (v === null) return null;
      sum += v;
    }
    return sum;
  }
  let cur: unknown = observed;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined && path.startsWith('errors.')) return 0;
  return typeof cur === 'number' && Number.isFinite(cur) ? cur : null;
}

function compare(op: CheckOp, a: number, b: number): boolean {
  switch (op) {
    case 'eq':
      return a === b;
    case 'gt':
      return a > b;
    case 'gte':
      return a >= b;
    case 'lt':
      return a < b;
    case 'lte':
      return a <= b;
  }
}

export const OP_SYMBOL: Record<CheckOp, string> = { eq: '=', gt: '>', gte: '≥', lt: '<', lte: '≤' };

/** A metric reference as the verdict names it: `portRangeSize`, or `0.95×portRangeSize`. */
function refText(ref: { metric: string; factor?: number }): string {
  return ref.factor === undefined ? ref.metric : `${ref.factor}×${ref.metric}`;
}

function scaled(v: number | null, factor: number | undefined): number | null {
  return v === null || factor === undefined ? v : v * factor;
}

function judge(check: ScenarioCheck, observed: ScenarioObserved, inNamespace: boolean): CheckResult {
  const actual = metricValue(observed, check.metric);
  const fromMetric = typeof check.value === 'number' ? undefined : refText(check.value);
  const expected =
    typeof check.value === 'number'
      ? check.value
      : scaled(metricValue(observed, check.value.metric), check.value.factor);
  const base = { metric: check.metric, op: check.op, expected: expected ?? Number.NaN, actual, says: check.says };
  const withFrom = fromMetric === undefined ? base : { ...base, expectedFrom: fromMetric };
  if (check.namespaceOnly && !inNamespace) return { ...withFrom, pass: true, skipped: true };
  const pass = actual !== null && expected !== null && compare(check.op, actual, expected);
  return { ...withFrom, pass, skipped: false };
}

/**
 * The verdict of a run against the scenario's checks. Checks that need a private namespace
 * (kernel counters shared with the whole host) are skipped, not failed, on the host loopback.
 */
export function judgeScenario(
  def: ScenarioDefinition,
  observed: ScenarioObserved,
  options: { inNamespace: boolean },
): ScenarioVerdict {
  const checks = def.checks.map((c) => judge(c, observed, options.inNamespace));
  return { pass: checks.every((c) => c.pass), checks };
}

/** The `expected` object of `kalab scenario --json`: the article's result and each check. */
export function expectedOf(def: ScenarioDefinition): {
  result: string;
  checks: Array<{ metric: string; op: CheckOp; value: number | string }>;
} {
  return {
    result: def.expectedText,
    checks: def.checks.map((c) => ({
      metric: c.metric,
      op: c.op,
      value: typeof c.value === 'number' ? c.value : refText(c.value),
    })),
  };
}

/** Sums per-phase observations into the scenario's top-level numbers. */
export function sumObserved(parts: ScenarioObserved[]): Omit<ScenarioObserved, 'phases'> {
  const total: Omit<ScenarioObserved, 'phases'> = {
    connectionsOpened: 0,
    synSent: 0,
    timeWait: { client: 0, server: 0 },
    errors: {},
    requests: { sent: 0, ok: 0, failed: 0 },
    reusedRequests: 0,
    states: { client: {}, server: {} },
    durationMs: 0,
  };
  const add = (into: Record<string, number>, from: Record<string, number> | undefined) => {
    for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
  };
  for (const p of parts) {
    total.connectionsOpened += p.connectionsOpened;
    total.synSent += p.synSent;
    total.timeWait.client += p.timeWait.client;
    total.timeWait.server += p.timeWait.server;
    add(total.errors, p.errors);
    total.requests.sent += p.requests.sent;
    total.requests.ok += p.requests.ok;
    total.requests.failed += p.requests.failed;
    total.reusedRequests += p.reusedRequests;
    add(total.states.client, p.states.client);
    add(total.states.server, p.states.server);
    total.durationMs += p.durationMs;
    for (const key of ['resetsOnReusedSocket', 'retries', 'streams'] as const) {
      if (p[key] !== undefined) total[key] = (total[key] ?? 0) + (p[key] ?? 0);
    }
    if (p.serverClosedBy) {
      total.serverClosedBy ??= {};
      add(total.serverClosedBy, p.serverClosedBy);
    }
    if (p.tls) {
      total.tls ??= { handshakes: 0, resumed: 0, serverHandshakes: 0, serverResumed: 0 };
      add(total.tls, p.tls);
    }
  }
  return total;
}
