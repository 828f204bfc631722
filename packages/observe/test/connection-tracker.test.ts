import type { TcpSocket, TcpState } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { ConnectionTracker } from '../src/index.js';

const ep = (port: number) => ({ address: '127.0.0.1', port });
const sock = (local: number, remote: number, state: TcpState): TcpSocket => ({
  local: ep(local),
  remote: ep(remote),
  state,
  family: 4,
});
const LISTEN = sock(8080, 0, 'LISTEN');

describe('ConnectionTracker', () => {
  it('pairs both sockets of a loopback connection into one life and names the side that closed first', () => {
    const t = new ConnectionTracker([32768, 60999]);
    t.add({ atMs: 0, sockets: [LISTEN, sock(40000, 8080, 'ESTABLISHED'), sock(8080, 40000, 'ESTABLISHED')] });
    t.add({ atMs: 100, sockets: [LISTEN, sock(40000, 8080, 'FIN_WAIT2'), sock(8080, 40000, 'CLOSE_WAIT')] });
    t.add({ atMs: 200, sockets: [LISTEN, sock(40000, 8080, 'TIME_WAIT')] });
    const { lives, dropped } = t.lives();
    expect(dropped).toBe(0);
    expect(lives).toEqual([
      {
        client: '127.0.0.1:40000',
        server: '127.0.0.1:8080',
        firstSeenMs: 0,
        lastSeenMs: 200,
        seen: 'both',
        closedFirst: 'client',
        timeWait: 'client',
        lastState: 'TIME_WAIT',
      },
    ]);
    expect(t.remoteSummaries()).toEqual([
      { remote: '127.0.0.1:8080', opened: 1, peakOpen: 1, timeWait: 1, vanished: 0 },
    ]);
    expect(t.counts()).toEqual({ opened: 1, accepted: 1 });
    expect(t.timeline()).toEqual([{ second: 0, newConnections: 1, open: 0, timeWait: 1 }]);
  });

  it('a server that closes first leaves the TIME_WAIT on its side', () => {
    const t = new ConnectionTracker([32768, 60999]);
    t.add({ atMs: 0, sockets: [LISTEN, sock(40001, 8080, 'CLOSE_WAIT'), sock(8080, 40001, 'FIN_WAIT2')] });
    t.add({ atMs: 100, sockets: [LISTEN, sock(8080, 40001, 'TIME_WAIT')] });
    expect(t.lives().lives[0]).toMatchObject({ closedFirst: 'server', timeWait: 'server', client: '127.0.0.1:40001' });
  });

  it('the same 4-tuple opened again after its TIME_WAIT (tcp_tw_reuse) is a second connection', () => {
    const t = new ConnectionTracker([32768, 60999]);
    t.add({ atMs: 0, sockets: [LISTEN, sock(40002, 8080, 'TIME_WAIT')] });
    t.add({ atMs: 1500, sockets: [LISTEN, sock(40002, 8080, 'ESTABLISHED')] });
    expect(t.lives().lives).toHaveLength(2);
    expect(t.remoteSummaries()[0]).toMatchObject({ opened: 2, peakOpen: 1, timeWait: 1 });
    expect(t.timeline().map((e) => e.newConnections)).toEqual([1, 1]);
  });

  it('counts new connections per second from ActiveOpens when the namespace counter is given', () => {
    const t = new ConnectionTracker([32768, 60999]);
    t.add({ atMs: 0, sockets: [], activeOpens: 0 });
    // 5 connections came and went between two samples without a trace here: the counter still has them.
    t.add({ atMs: 100, sockets: [], activeOpens: 5 });
    t.add({ atMs: 1100, sockets: [sock(40003, 8080, 'TIME_WAIT')], activeOpens: 6 });
    expect(t.timeline().map((e) => e.newConnections)).toEqual([5, 1]);
  });

  it('lists at most maxLives lives and counts the rest', () => {
    const t = new ConnectionTracker([32768, 60999], 3);
    t.add({ atMs: 0, sockets: [LISTEN, ...[1, 2, 3, 4, 5].map((i) => sock(40000 + i, 8080, 'TIME_WAIT'))] });
    t.add({ atMs: 100, sockets: [LISTEN] });
    expect(t.lives().lives).toHaveLength(3);
    expect(t.lives().dropped).toBe(2);
    expect(t.remoteSummaries()[0]).toMatchObject({ opened: 5, timeWait: 5 });
  });
});
