import type { TcpSocket, TcpState } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { socketRows, statesBySide } from '../src/tcp-view.js';

const ep = (port: number) => ({ address: '127.0.0.1', port });
const row = (l: number, r: number, state: TcpState): TcpSocket => ({ family: 4, local: ep(l), remote: ep(r), state });

describe('TCP view', () => {
  it('counts states by side of the server port', () => {
    const s = statesBySide(
      [
        row(8080, 0, 'LISTEN'),
        row(40001, 8080, 'TIME_WAIT'),
        row(40002, 8080, 'TIME_WAIT'),
        row(8080, 40003, 'TIME_WAIT'),
        row(40004, 9999, 'ESTABLISHED'),
      ],
      [8080],
    );
    expect(s).toEqual({ client: { TIME_WAIT: 2 }, server: { LISTEN: 1, TIME_WAIT: 1 } });
  });

  it('lists client-side rows first, the listener left out', () => {
    const rows = socketRows(
      [
        row(8080, 0, 'LISTEN'),
        row(8080, 40003, 'TIME_WAIT'),
        row(40002, 8080, 'TIME_WAIT'),
        row(40001, 9999, 'TIME_WAIT'),
      ],
      [8080],
    );
    expect(rows).toEqual([
      { local: '127.0.0.1:40002', remote: '127.0.0.1:8080', state: 'TIME_WAIT' },
      { local: '127.0.0.1:8080', remote: '127.0.0.1:40003', state: 'TIME_WAIT' },
    ]);
  });
});
