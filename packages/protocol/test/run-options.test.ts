import { describe, expect, it } from 'vitest';
import { RunOptionsSchema } from '../src/index.js';

describe('RunOptionsSchema', () => {
  it('carries a per-request timeout from a monitor to its agents', () => {
    expect(RunOptionsSchema.parse({ target: 'http://127.0.0.1:8080/', timeoutMs: 500 }).timeoutMs).toBe(500);
    expect(RunOptionsSchema.safeParse({ target: 'http://127.0.0.1:8080/', timeoutMs: 0 }).success).toBe(false);
  });
});
