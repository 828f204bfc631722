import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { MONITOR_DEFAULTS, MONITOR_LIMITS, resolveMonitorOptions } from '../src/index.js';

describe('resolveMonitorOptions', () => {
  it('fills the defaults of one module', () => {
    const o = resolveMonitorOptions({ sampleLocalTcp: false });
    expect(o.heartbeatMs).toBe(MONITOR_DEFAULTS.heartbeatMs);
    expect(o.snapshotIntervalMs).toBe(MONITOR_DEFAULTS.snapshotIntervalMs);
    expect(o.token).toBeUndefined();
  });

  it('checks MONITOR_LIMITS, naming options.NAME or the name its caller gives', () => {
    const max = MONITOR_LIMITS.heartbeatMs.max;
    expect(() => resolveMonitorOptions({ heartbeatMs: max + 1 })).toThrow(
      `options.heartbeatMs must be an integer from 50 to ${max}, got "${max + 1}"`,
    );
    try {
      resolveMonitorOptions({ snapshotIntervalMs: 1 }, { snapshotIntervalMs: '--snapshot-interval' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadOptionError);
      expect((err as BadOptionError).option).toBe('--snapshot-interval');
      expect((err as BadOptionError).message).toBe('--snapshot-interval must be an integer from 20 to 60000, got "1"');
    }
    expect(() => resolveMonitorOptions({ token: '' }, { token: '--token' })).toThrow(
      '--token must be a string of 1 to 256 characters',
    );
  });
});
