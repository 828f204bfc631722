import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ephemeralUsage, readTcpTable } from '../src/index.js';

const procRoot = fileURLToPath(new URL('./fixtures/proc', import.meta.url));

describe('ephemeralUsage', () => {
  it('lists the held local ports of the range and the state of each socket on them', async () => {
    const sockets = await readTcpTable({ procRoot });
    const u = ephemeralUsage(sockets, [32768, 60999]);
    expect(u.size).toBe(28_232);
    // 44164 (ESTABLISHED + 6 hand-made rows), 44170, 44186, 36997, 53148, 53150 and 46318 are in range; 8080-8082 and 2024 are not.
    expect([...u.ports.keys()].sort()).toEqual([36997, 44164, 44170, 44186, 53148, 53150].sort());
    expect(u.inUse).toBe(6);
    expect(u.timeWait).toBe(3);
    expect(u.ports.get(44170)).toEqual(['TIME_WAIT']);
    expect(u.ports.get(44164)).toEqual([
      'ESTABLISHED',
      'SYN_SENT',
      'SYN_RECV',
      'FIN_WAIT1',
      'CLOSE',
      'LAST_ACK',
      'CLOSING',
    ]);
    expect(u.byState).toMatchObject({ TIME_WAIT: 3, ESTABLISHED: 2, FIN_WAIT2: 1 });
  });

  it('a narrow range sees only its ports', async () => {
    const u = ephemeralUsage(await readTcpTable({ procRoot }), [44170, 44170]);
    expect(u).toMatchObject({ size: 1, inUse: 1, timeWait: 1 });
  });

  it('rejects a range that is not [lo, hi]', () => {
    expect(() => ephemeralUsage([], [60999, 32768])).toThrow(RangeError);
    expect(() => ephemeralUsage([], [0, 10])).toThrow(/range must be/);
  });
});
