import { UnreachableError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { checkPipelining } from '../src/pipelining.js';
import type { ProbeContext } from '../src/probe-context.js';

// A probe reads "no connection" as an answer about the server, and nothing else: the probe's
// own connection budget, or a bug, surfaces instead of turning into a "not supported".
const failingWith = (err: Error) => ({ connect: () => Promise.reject(err) }) as unknown as ProbeContext;

describe('doctor probes catch only connection errors', () => {
  it('an unreachable server: pipelining unknown (0 sent, supported null)', async () => {
    const r = await checkPipelining(failingWith(new UnreachableError('cannot reach 127.0.0.1:1: ECONNREFUSED')));
    expect(r).toEqual({ sent: 0, answered: 0, supported: null });
  });

  it('the connection budget overrun (a plain Error) surfaces', async () => {
    const bug = new Error('doctor would open more than 8 connections at once');
    await expect(checkPipelining(failingWith(bug))).rejects.toBe(bug);
  });
});
