import { BadOptionError } from '@kalab/core/errors';
import { parseDuration } from '@kalab/core/options';

/** Defaults of the keep-alive probe, in one place (STYLE.md). */
export const DOCTOR_DEFAULTS = {
  /** Whole probe, every phase included (`kalab doctor --budget`). */
  budgetMs: 60_000,
  /** Smallest `--budget`; the API accepts down to apiMinBudgetMs (the CLI passes what start-up left). */
  minBudgetMs: 1_000,
  apiMinBudgetMs: 500,
  maxBudgetMs: 3_600_000,
  /** Sequential requests on one connection before calling the server unlimited. */
  maxRequestsCap: 1_000,
  /** Body bytes the max-requests run may download before it stops (a large page x 1,000 is rude). */
  maxRequestsBytes: 32 * 1024 * 1024,
  /** Connections open to the target at once, never more. */
  maxOpenConnections: 5,
  /** Requests written in one go by the pipelining check. */
  pipelineDepth: 3,
  /** Longest wait for one connect or one response. */
  stepTimeoutMs: 10_000,
  /** Longest wait for the HTTP/2 checks. */
  http2TimeoutMs: 3_000,
  /** Gaps of the idle-reuse search, as fractions of the time left for the idle phase. */
  reuseGapFractions: [0.4, 0.8] as const,
} as const;

/** `--budget`: a duration (plain number = seconds) from 1 s to 1 h. */
export function parseBudget(option: string, value: string | number): number {
  const ms = parseDuration(option, value, 's');
  if (ms < DOCTOR_DEFAULTS.minBudgetMs || ms > DOCTOR_DEFAULTS.maxBudgetMs) {
    throw new BadOptionError(option, `${option} must be a duration from 1s to 1h, got "${value}"`);
  }
  return ms;
}
