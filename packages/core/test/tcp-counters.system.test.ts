import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasCommand, missing } from '../../../test/support/needs.js';
import {
  ParseError,
  parseCounterPairs,
  parsePortRange,
  parseSockstat,
  readEphemeralRange,
  readNetstatCounters,
  readSnmp,
  readSockstat,
} from '../src/index.js';

const procRoot = fileURLToPath(new URL('./fixtures/proc', import.meta.url));

describe('kernel counters from a procfs root', () => {
  it('reads /proc/net/snmp Tcp counters by name', async () => {
    const snmp = await readSnmp({ procRoot });
    expect(snmp.Tcp).toMatchObject({
      ActiveOpens: 2252,
      PassiveOpens: 2194,
      AttemptFails: 2,
      EstabResets: 50,
      CurrEstab: 0,
      RetransSegs: 11,
      MaxConn: -1,
    });
    expect(snmp.Ip?.Forwarding).toBe(2);
    expect(Object.keys(snmp)).toEqual(expect.arrayContaining(['Ip', 'Icmp', 'IcmpMsg', 'Tcp', 'Udp', 'UdpLite']));
  });

  it('reads /proc/net/netstat TcpExt with the TIME_WAIT counters', async () => {
    const ext = (await readNetstatCounters({ procRoot })).TcpExt;
    expect(ext).toMatchObject({ TW: 2156, TWRecycled: 3, TWKilled: 0, ListenOverflows: 0, ListenDrops: 0 });
    expect(typeof ext.TCPTimeWaitOverflow).toBe('number');
  });

  it('reads /proc/net/sockstat and sockstat6', async () => {
    const s = await readSockstat({ procRoot });
    expect(s.sockets.used).toBe(17);
    expect(s.TCP).toEqual({ inuse: 2, orphan: 0, tw: 2077, alloc: 2, mem: 47 });
    expect(s.TCP6).toEqual({ inuse: 0 });
    expect(s.FRAG).toEqual({ inuse: 0, memory: 0 });
  });

  it('reads ip_local_port_range, of another pid’s namespace too', async () => {
    expect(await readEphemeralRange({ procRoot })).toEqual([32768, 60999]);
    expect(await readEphemeralRange({ procRoot, pid: 4242 })).toEqual([1024, 65535]);
  });

  it('rejects malformed input with ParseError', () => {
    expect(() => parseCounterPairs('Tcp: A B\nTcp: 1\n')).toThrow(ParseError);
    expect(() => parseCounterPairs('Tcp: A B\nUdp: 1 2\n')).toThrow(ParseError);
    expect(() => parsePortRange('60999 32768')).toThrow(ParseError);
    expect(() => parsePortRange('abc')).toThrow(ParseError);
    expect(parseSockstat('')).toEqual({});
  });
});

describe('kernel counters on this host', () => {
  it('ActiveOpens and PassiveOpens grow when this process connects to itself', async () => {
    const before = (await readSnmp()).Tcp;
    const server = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    c.destroy();
    await new Promise((r) => server.close(r));
    const after = (await readSnmp()).Tcp;
    // Other processes may connect too: at least ours is counted.
    expect(after.ActiveOpens - before.ActiveOpens).toBeGreaterThanOrEqual(1);
    expect(after.PassiveOpens - before.PassiveOpens).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(missing('nstat (iproute2)', hasCommand('nstat')))(
    'reads the live range, TcpExt and sockstat, and of its own pid',
    async () => {
      const [lo, hi] = await readEphemeralRange();
      expect(lo).toBeGreaterThan(0);
      expect(hi).toBeGreaterThanOrEqual(lo);
      expect(await readEphemeralRange({ pid: process.pid })).toEqual([lo, hi]);
      // TcpExt TW as iproute2's nstat reads it just before and just after: ours lies between.
      const twBefore = nstat('TcpExtTW');
      const tw = (await readNetstatCounters({ pid: process.pid })).TcpExt.TW;
      expect(tw).toBeGreaterThanOrEqual(twBefore);
      expect(tw).toBeLessThanOrEqual(nstat('TcpExtTW'));
      // sockstat's TCP inuse grows by at least the listener and the 2 x 5 sockets of 5 connections we open.
      const inuseBefore = (await readSockstat()).TCP.inuse;
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const clients = await Promise.all(
        Array.from(
          { length: 5 },
          () =>
            new Promise<net.Socket>((r) => {
              const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => r(c));
            }),
        ),
      );
      try {
        expect((await readSockstat()).TCP.inuse - inuseBefore).toBeGreaterThanOrEqual(11);
      } finally {
        for (const c of clients) c.destroy();
        server.close();
      }
    },
  );
});

/** One counter's absolute value from iproute2's nstat (no history file touched). */
function nstat(name: string): number {
  const out = execFileSync('nstat', ['-asz', name], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line!.trim().split(/\s+/)[1]);
}
