import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { decodeMessage, HelloSchema, MonitorLink, TickSchema } from '../src/index.js';

/** A minimal hub: answers hellos with a welcome (or an auth error) and records what arrives. */
function startHub(opts: { token?: string; heartbeatMs?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
  const received: unknown[] = [];
  const peers: WebSocket[] = [];
  let hellos = 0;
  wss.on('connection', (ws) => {
    peers.push(ws);
    ws.once('message', (data: Buffer) => {
      const hello = decodeMessage(HelloSchema, data);
      hellos++;
      if (opts.token && hello.token !== opts.token) {
        ws.send(JSON.stringify({ v: 1, type: 'error', code: 'KALAB_ERR_AUTH', message: 'bad token' }));
        ws.close(1008);
        return;
      }
      ws.send(
        JSON.stringify({
          v: 1,
          type: 'welcome',
          id: String(hellos),
          heartbeatMs: opts.heartbeatMs ?? 0,
          serverTime: Date.now(),
        }),
      );
      ws.on('message', (d: Buffer) => received.push(JSON.parse(d.toString())));
    });
  });
  const ready = new Promise<void>((r) => wss.once('listening', () => r()));
  return {
    wss,
    received,
    peers,
    get hellos() {
      return hellos;
    },
    ready,
    url: () => `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
    close: () =>
      new Promise<void>((r) => {
        for (const p of peers) p.terminate();
        wss.close(() => r());
      }),
  };
}

const tick = (seq: number) => ({
  v: 1 as const,
  type: 'tick' as const,
  seq,
  at: Date.now(),
  elapsedMs: seq * 1000,
  totals: { requests: seq, connectionsOpened: 1 },
  rates: { rps: 1, newConnPerSec: 0 },
  openConnections: 1,
  errors: {},
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('MonitorLink', () => {
  it('queues messages sent before the welcome and delivers them in order', async () => {
    const hub = startHub();
    cleanups.push(hub.close);
    await hub.ready;
    const link = new MonitorLink({ url: hub.url(), role: 'agent', name: 'a1', host: 'h1' });
    cleanups.push(() => link.close());
    link.send(tick(1));
    link.send(tick(2));
    link.start();
    await link.waitConnected();
    link.send(tick(3));
    await link.drain();
    await expect.poll(() => hub.received.length).toBe(3);
    expect(hub.received.map((m) => decodeMessage(TickSchema, JSON.stringify(m)).seq)).toEqual([1, 2, 3]);
  });

  it('reconnects after the hub drops it, with the same name', async () => {
    const hub = startHub();
    cleanups.push(hub.close);
    await hub.ready;
    const link = new MonitorLink({ url: hub.url(), role: 'server', name: 's1', backoffMs: { initial: 20, max: 100 } });
    cleanups.push(() => link.close());
    link.start();
    await link.waitConnected();
    const disconnected = new Promise((r) => link.once('disconnected', r));
    hub.peers[0]!.terminate();
    await disconnected;
    await link.waitConnected();
    expect(hub.hellos).toBe(2);
  });

  it('stops retrying when the hub refuses its token', async () => {
    const hub = startHub({ token: 'right' });
    cleanups.push(hub.close);
    await hub.ready;
    const link = new MonitorLink({
      url: hub.url(),
      role: 'agent',
      token: 'wrong',
      backoffMs: { initial: 10, max: 20 },
    });
    cleanups.push(() => link.close());
    const fatal = new Promise<Error>((r) => link.once('fatal', r));
    link.start();
    expect(((await fatal) as { code?: string }).code).toBe('KALAB_ERR_AUTH');
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.hellos).toBe(1);
  });

  it('drops the oldest queued messages beyond maxQueue while disconnected', () => {
    const link = new MonitorLink({ url: 'ws://127.0.0.1:9/ws', role: 'agent', maxQueue: 2 });
    link.send(tick(1));
    link.send(tick(2));
    link.send(tick(3));
    expect(link.dropped).toBe(1);
  });
});
