import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AgentCapsSchema,
  ENGINES,
  ENGINES_RUN,
  FAN_OUT_MAX_AGENTS,
  FAN_OUT_RUN_ID_MAX,
  LIMITS,
  REPORT_ENGINES,
  ReportSchema,
  RUN_ID_MAX,
  RunOptionsSchema,
  RunStartSchema,
} from '../src/index.js';

// The wire's bounds on a number, as zod 4 reports them (an optional field unwrapped).
function bounds(schema: z.ZodType): { min: number | null; max: number | null } {
  const inner = (schema as unknown as { unwrap?: () => z.ZodType }).unwrap?.() ?? schema;
  const n = inner as unknown as { minValue: number | null; maxValue: number | null };
  const finite = (x: number | null) => (x === null || Math.abs(x) >= Number.MAX_SAFE_INTEGER ? null : x);
  return { min: finite(n.minValue), max: finite(n.maxValue) };
}

describe('the schemas take their bounds from LIMITS', () => {
  const run = RunOptionsSchema.shape;
  it.each([
    ['connections', run.connections, LIMITS.connections],
    ['workers', run.workers, LIMITS.workers],
    ['pipelining', run.pipelining, LIMITS.pipelining],
    ['timeoutMs', run.timeoutMs, LIMITS.timeoutMs],
    ['caps.maxConnections', AgentCapsSchema.shape.maxConnections, LIMITS.connections],
    ['caps.maxBodyBytes', AgentCapsSchema.shape.maxBodyBytes, LIMITS.bodyBytes],
  ] as const)('%s: the same min and max as the loadgen checks', (_, schema, limit) => {
    expect(bounds(schema)).toEqual({ min: limit.min, max: limit.max });
  });

  // Bounded below only on the wire: above the max an agent answers run-refused (resolveOptions
  // checks LIMITS) instead of dropping the message as malformed.
  it.each([
    ['requests', run.requests, LIMITS.requests],
    ['durationMs', run.durationMs, LIMITS.durationMs],
    ['maxIdle', run.maxIdle, LIMITS.maxIdle],
    ['caps.maxDurationMs', AgentCapsSchema.shape.maxDurationMs, LIMITS.durationMs],
  ] as const)('%s: the same min as the loadgen checks, no max on the wire', (_, schema, limit) => {
    expect(bounds(schema)).toEqual({ min: limit.min, max: null });
  });

  it('lists: local addresses, headers and the CA as LIMITS caps them', () => {
    const ok = { target: 'http://127.0.0.1/' };
    const at = (n: number) => Array.from({ length: n }, () => '127.0.0.1');
    expect(RunOptionsSchema.safeParse({ ...ok, localAddresses: at(LIMITS.localAddresses.max) }).success).toBe(true);
    expect(RunOptionsSchema.safeParse({ ...ok, localAddresses: at(LIMITS.localAddresses.max + 1) }).success).toBe(
      false,
    );
    const headers = (n: number) => Array.from({ length: n }, () => ['x', 'y']);
    expect(RunOptionsSchema.safeParse({ ...ok, headers: headers(LIMITS.headers.max) }).success).toBe(true);
    expect(RunOptionsSchema.safeParse({ ...ok, headers: headers(LIMITS.headers.max + 1) }).success).toBe(false);
    expect(RunOptionsSchema.safeParse({ ...ok, ca: 'a'.repeat(LIMITS.caBytes.max + 1) }).success).toBe(false);
  });

  it('engines: what --engine accepts goes on the wire; a report names any engine that runs', () => {
    expect(RunOptionsSchema.shape.engine.unwrap().options).toEqual([...ENGINES]);
    const reportEngines = ReportSchema.shape.engine.options;
    expect(reportEngines).toEqual([...REPORT_ENGINES]);
    for (const e of ENGINES_RUN) expect(reportEngines).toContain(e);
  });

  it("run ids: a fan-out's id with an agent's `.n` suffix is still a run id", () => {
    expect(FAN_OUT_RUN_ID_MAX + `.${FAN_OUT_MAX_AGENTS}`.length).toBeLessThanOrEqual(RUN_ID_MAX);
    const start = { v: 1, type: 'run-start', options: { target: 'http://127.0.0.1/' } };
    expect(RunStartSchema.safeParse({ ...start, runId: 'r'.repeat(RUN_ID_MAX) }).success).toBe(true);
    expect(RunStartSchema.safeParse({ ...start, runId: 'r'.repeat(RUN_ID_MAX + 1) }).success).toBe(false);
  });
});
