import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
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
    reporter.start();
    await reporter.link.waitConnected();
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
    expect(src.tls!.handshakesPerSec).toBeGreaterThanOrEqual(0);
  });
});
