import { connect as tlsConnect } from 'node:tls';
import type { Tick } from '@kalab/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLabServer, type LabServer, MonitorReporter } from '../../server/src/index.js';
import { createMonitor, type Monitor } from '../src/index.js';
import { until } from './test-peer.js';

let monitor: Monitor | null = null;
let lab: LabServer | null = null;
let reporter: MonitorReporter | null = null;
afterEach(async () => {
  await reporter?.close();
  await lab?.close({ graceMs: 0 });
  await monitor?.close();
  monitor = lab = reporter = null;
});

/** The whole path of a TLS server's counts: ledger → MonitorReporter ticks → the monitor's snapshot. */
describe("a TLS lab server's handshakes in the monitor", () => {
  it("the server's source in the snapshot has its handshakes, resumed sessions and handshakes/s, as its ledger counted", async () => {
    monitor = await createMonitor({ port: 0, sampleLocalTcp: false });
    lab = createLabServer({ port: 0, tls: true });
    const { port, certificate } = await lab.listen();
    reporter = new MonitorReporter({
      ledger: lab.ledger,
      url: monitor.url,
      port,
      name: 'tls-server',
      tickIntervalMs: 100,
      sampleTcp: null,
    });
    // Every tick the reporter sends, to integrate its handshakes/s over time.
    const ticks: { at: number; rate: number }[] = [];
    const send = reporter.link.send.bind(reporter.link);
    vi.spyOn(reporter.link, 'send').mockImplementation((msg) => {
      const m = msg as Partial<Tick>;
      if (m.type === 'tick') ticks.push({ at: m.at!, rate: m.rates!.handshakesPerSec ?? Number.NaN });
      return send(msg);
    });
    reporter.start();
    await reporter.link.waitConnected();
    // A first tick sets the rate's starting point before any handshake.
    await until(
      () => ticks.length,
      (n) => n > 0,
    );
    // Four connections: a full handshake, then three resumed with its session.
    let session: Buffer | undefined;
    for (let i = 0; i < 4; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: certificate!.cert, ALPNProtocols: ['http/1.1'], session });
        s.on('session', (b: Buffer) => {
          session ??= b;
        });
        s.once('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        s.on('data', () => {});
        s.once('close', () => resolve());
        s.once('error', reject);
      });
    }
    expect(lab.stats().tls).toEqual({ handshakes: 4, resumed: 3 });
    const snap = await until(
      () => monitor!.snapshot(),
      (x) => x.sources.find((s) => s.name === 'tls-server')?.tls?.handshakes === 4,
    );
    const src = snap.sources.find((s) => s.name === 'tls-server')!;
    expect(src.role).toBe('server');
    expect(src.tls).toMatchObject({ handshakes: 4, resumed: 3 });
    // handshakes/s is a rate of the ledger's count: over the ticks, rate x interval adds up to the
    // 4 handshakes (rounding and the two clocks' sub-millisecond gap aside), and falls back to 0.
    await until(
      () => ticks,
      (t) => t.length > 2 && t.at(-1)!.rate === 0 && t.at(-1)!.at > Date.now() - 1000,
    );
    const integral = ticks.slice(1).reduce((sum, t, i) => sum + (t.rate * (t.at - ticks[i]!.at)) / 1000, 0);
    expect(integral).toBeGreaterThan(3.8);
    expect(integral).toBeLessThan(4.2);
    expect(Math.max(...ticks.map((t) => t.rate))).toBeGreaterThan(0);
  });
});
