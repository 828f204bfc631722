import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { BadOptionError, sampleTcp } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { decodeMessage, TcpSampleSchema } from '../src/index.js';

const procRoot = fileURLToPath(new URL('../../core/test/fixtures/proc', import.meta.url));

describe('sampleTcp', () => {
  it('builds a tcp-sample the protocol accepts: states, ephemeral usage, snmp counters, rows', async () => {
    const s = await sampleTcp({ host: 'lab-a', procRoot, port: 8080, maxSockets: 3 });
    expect(TcpSampleSchema.parse(s)).toEqual(s);
    expect(decodeMessage(TcpSampleSchema, JSON.stringify(s))).toEqual(s);
    expect(s).toMatchObject({
      v: 1,
      type: 'tcp-sample',
      host: 'lab-a',
      states: { LISTEN: 2, ESTABLISHED: 2, TIME_WAIT: 1, FIN_WAIT2: 1, CLOSE_WAIT: 1 },
      // over every socket, not only port 8080's
      ephemeral: { range: [32768, 60999], inUse: 6, timeWait: 3 },
      counters: {
        ActiveOpens: 2252,
        PassiveOpens: 2194,
        AttemptFails: 2,
        EstabResets: 50,
        CurrEstab: 0,
        RetransSegs: 11,
      },
      sockets: [
        { local: '127.0.0.1:8080', remote: '0.0.0.0:0', state: 'LISTEN' },
        { local: '127.0.0.1:44164', remote: '127.0.0.1:8080', state: 'ESTABLISHED' },
        { local: '127.0.0.1:44170', remote: '127.0.0.1:8080', state: 'TIME_WAIT' },
      ],
    });
  });

  it('samples another namespace through pid, and lists no rows with maxSockets 0', async () => {
    const s = await sampleTcp({ host: 'ns', procRoot, pid: 4242, maxSockets: 0 });
    expect(s.sockets).toBeUndefined();
    expect(s.states).toMatchObject({ LISTEN: 1, TIME_WAIT: 1 });
    // 8080 (LISTEN) and 1025 (TIME_WAIT) are both inside 1024-65535 there.
    expect(s.ephemeral).toEqual({ range: [1024, 65535], inUse: 2, timeWait: 1 });
  });

  it('caps rows at the protocol’s 500', async () => {
    await expect(sampleTcp({ maxSockets: 501 })).rejects.toThrow(BadOptionError);
  });

  it('samples this host: a connection of ours shows up under its port', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const c = net.connect(port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const peer = await accepted;
    try {
      const s = await sampleTcp({ port });
      expect(TcpSampleSchema.safeParse(s).success).toBe(true);
      expect(s.states).toMatchObject({ LISTEN: 1, ESTABLISHED: 2 });
      expect(s.sockets).toHaveLength(3);
      expect(s.ephemeral!.inUse).toBeGreaterThanOrEqual(1);
      expect(s.counters!.ActiveOpens).toBeGreaterThanOrEqual(1);
    } finally {
      c.destroy();
      peer.destroy();
      server.close();
    }
  });
});
