import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  ConnectionEventsSchema,
  decodeMessage,
  HelloSchema,
  type SourceMessage,
  SourceMessageSchema,
} from '@kalab/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ConnectionLedger, MonitorReporter } from '../src/index.js';
import { get, onCleanup, startLab, waitUntil } from './helpers.js';

/** A stand-in monitor: checks the hello, welcomes, and validates every message against core's schemas. */
async function testMonitor(): Promise<{
  url: string;
  messages: SourceMessage[];
  hellos: unknown[];
  invalid: string[];
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await new Promise((r) => wss.once('listening', r));
  const state = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
    messages: [] as SourceMessage[],
    hellos: [] as unknown[],
    invalid: [] as string[],
  };
  wss.on('connection', (ws) => {
    let greeted = false;
    ws.on('message', (data: Buffer) => {
      try {
        if (!greeted) {
          state.hellos.push(decodeMessage(HelloSchema, data));
          greeted = true;
          ws.send(JSON.stringify({ v: 1, type: 'welcome', id: 'src-1', heartbeatMs: 0, serverTime: Date.now() }));
          return;
        }
        state.messages.push(decodeMessage(SourceMessageSchema, data));
      } catch (err) {
        state.invalid.push((err as Error).message);
      }
    });
  });
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  );
  return state;
}

describe('MonitorReporter', () => {
  it('sends hello (role server), batched conn-events, ticks and tcp-samples that validate against the protocol', async () => {
    const monitor = await testMonitor();
    const lab = await startLab();
    const reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: monitor.url,
      port: lab.port,
      flushIntervalMs: 50,
      tickIntervalMs: 100,
      sampleIntervalMs: 100,
    });
    onCleanup(() => reporter.close());
    reporter.start();
    await reporter.link.waitConnected();
    for (let i = 0; i < 3; i++) await get(lab.url, { agent: false });
    await waitUntil('3 close events, a tick with 3 requests and a tcp sample', () => {
      const closes = monitor.messages.flatMap((m) =>
        m.type === 'conn-events' ? m.events.filter((e) => e.kind === 'close') : [],
      );
      const tick = monitor.messages.some(
        (m) => m.type === 'tick' && m.totals.requests === 3 && m.totals.connectionsClosed === 3,
      );
      const sample = monitor.messages.some((m) => m.type === 'tcp-sample');
      return closes.length === 3 && tick && sample;
    });
    expect(monitor.invalid).toEqual([]);
    expect(monitor.hellos).toMatchObject([{ type: 'hello', role: 'server' }]);
    const events = monitor.messages.flatMap((m) => (m.type === 'conn-events' ? m.events : []));
    expect(events.filter((e) => e.kind === 'open').map((e) => e.id)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.kind === 'close').map((e) => [e.id, e.requests, e.reason])).toEqual([
      [1, 1, 'client'],
      [2, 1, 'client'],
      [3, 1, 'client'],
    ]);
    const tick = monitor.messages.filter((m) => m.type === 'tick').at(-1)!;
    expect(tick).toMatchObject({
      totals: { requests: 3, connectionsOpened: 3, connectionsClosed: 3 },
      openConnections: 0,
      closedBy: { client: 3 },
    });
  });

  it("a TLS server's ticks carry its handshakes, resumed sessions and handshakes/s (the ledger's stats.tls)", async () => {
    const monitor = await testMonitor();
    const lab = await startLab({ tls: true });
    const ca = lab.address().certificate!.cert;
    const reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: monitor.url,
      port: lab.port,
      tickIntervalMs: 60_000,
      sampleTcp: null,
    });
    onCleanup(() => reporter.close());
    reporter.start();
    await reporter.link.waitConnected();
    reporter.tick();
    // Three connections, one request each: a full handshake, then two resumed with its session.
    let session: Buffer | undefined;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: lab.port, ca, ALPNProtocols: ['http/1.1'], session });
        s.on('session', (b: Buffer) => {
          session ??= b;
        });
        s.once('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        s.on('data', () => {});
        s.once('close', () => resolve());
        s.once('error', reject);
      });
    }
    expect(lab.stats().tls).toEqual({ handshakes: 3, resumed: 2 });
    reporter.tick();
    await waitUntil('2 ticks', () => monitor.messages.filter((m) => m.type === 'tick').length === 2);
    const [before, after] = monitor.messages.filter((m) => m.type === 'tick');
    expect(before!.totals).toMatchObject({ connectionsOpened: 0, tlsHandshakes: 0, tlsResumed: 0 });
    expect(before!.rates.handshakesPerSec).toBe(0);
    expect(after!.totals).toMatchObject({ connectionsOpened: 3, tlsHandshakes: 3, tlsResumed: 2 });
    // 3 handshakes between the two ticks: the rate is 3 over their interval (each tick reads
    // the clock once more for the rate: a millisecond either way, and a rounding to 0.01).
    const dt = after!.at - before!.at;
    expect(after!.rates.handshakesPerSec).toBeGreaterThanOrEqual(3000 / (dt + 1) - 0.01);
    expect(after!.rates.handshakesPerSec).toBeLessThanOrEqual(3000 / Math.max(1, dt - 1) + 0.01);
    expect(monitor.invalid).toEqual([]);
  });

  it('a plain server says nothing about TLS in its ticks', async () => {
    const monitor = await testMonitor();
    const lab = await startLab();
    const reporter = new MonitorReporter({ ledger: lab.ledger, url: monitor.url, port: lab.port, sampleTcp: null });
    onCleanup(() => reporter.close());
    reporter.start();
    await reporter.link.waitConnected();
    reporter.tick();
    await waitUntil('a tick', () => monitor.messages.some((m) => m.type === 'tick'));
    const tick = monitor.messages.find((m) => m.type === 'tick')!;
    expect(tick.totals.tlsHandshakes).toBeUndefined();
    expect(tick.rates.handshakesPerSec).toBeUndefined();
  });

  it('splits a burst into messages of at most 1000 events and ignores other ledgers', async () => {
    const monitor = await testMonitor();
    const ledger = new ConnectionLedger();
    const other = new ConnectionLedger();
    const reporter = new MonitorReporter({
      ledger,
      url: monitor.url,
      port: 1,
      flushIntervalMs: 60_000,
      tickIntervalMs: 60_000,
      sampleTcp: null,
    });
    onCleanup(() => reporter.close());
    reporter.start();
    await reporter.link.waitConnected();
    const socket = { remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2 };
    for (let i = 0; i < 1300; i++) ledger.close(ledger.open('http1', socket));
    other.close(other.open('http1', socket));
    reporter.flush();
    await waitUntil(
      '2600 events',
      () => monitor.messages.reduce((n, m) => n + (m.type === 'conn-events' ? m.events.length : 0), 0) >= 2600,
    );
    const sizes = monitor.messages
      .filter((m) => m.type === 'conn-events')
      .map((m) => (m.type === 'conn-events' ? m.events.length : 0));
    expect(sizes).toEqual([1000, 1000, 600]);
    for (const m of monitor.messages)
      if (m.type === 'conn-events') expect(ConnectionEventsSchema.safeParse(m).success).toBe(true);
    expect(monitor.invalid).toEqual([]);
  });

  it('keeps serving when the monitor is unreachable (the link retries in the background)', async () => {
    const lab = await startLab();
    // A port nobody listens on: the link retries in the background.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: `ws://127.0.0.1:${deadPort}/ws`,
      port: lab.port,
      flushIntervalMs: 50,
      tickIntervalMs: 100,
      sampleTcp: null,
    });
    onCleanup(() => reporter.close());
    reporter.start();
    expect((await get(lab.url, { agent: false })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(lab.stats().requests.total).toBe(1);
    expect(reporter.link.connected).toBe(false);
  });
});
