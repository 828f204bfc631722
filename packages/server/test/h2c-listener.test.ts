import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { onCleanup, startLab, waitUntil } from './helpers.js';

function request(session: http2.ClientHttp2Session, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.end();
  });
}

describe('h2c listener: sessions are connections, streams are requests, same ledger', () => {
  it('10 concurrent streams on one session are 1 connection with 10 requests', async () => {
    const lab = await startLab({ h2cPort: 0 });
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    const results = await Promise.all(Array.from({ length: 10 }, () => request(session)));
    expect(results.every((r) => r.status === 200 && r.body === 'Hello world')).toBe(true);
    const stats = JSON.parse((await request(session, '/_kalab/stats')).body);
    expect(stats).toMatchObject({ connections: { opened: 1, open: 1 }, requests: { total: 11 } });
    expect(lab.ledger.openConnections()[0]!.protocol).toBe('h2c');
    session.close();
    await waitUntil('closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.client).toBe(1);
  });

  it('h1 and h2c connections add up in one ledger', async () => {
    const lab = await startLab({ h2cPort: 0 });
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    await request(session);
    await fetch(lab.url).then((r) => r.text());
    expect(lab.stats().connections.opened).toBe(2);
    expect(lab.stats().requests.total).toBe(2);
  });

  it('maxRequestsPerSocket ends the session with GOAWAY after the n-th stream', async () => {
    const lab = await startLab({ h2cPort: 0, maxRequestsPerSocket: 2 });
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    await request(session);
    await request(session);
    await goaway;
    await waitUntil('closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.maxRequests).toBe(1);
  });

  it('keepAliveTimeout closes an idle session for idleTimeout', async () => {
    const lab = await startLab({ h2cPort: 0, keepAliveTimeout: 200 });
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    await request(session);
    await waitUntil('idle close', () => lab.ledger.closed === 1, 5000);
    expect(lab.stats().connections.closedBy.idleTimeout).toBe(1);
  });

  it('shutdown ends an idle session with GOAWAY, closed by the server', async () => {
    const lab = await startLab({ h2cPort: 0 });
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    await request(session);
    const stats = await lab.close({ graceMs: 2000 });
    expect(stats.connections).toMatchObject({ opened: 1, open: 0, closed: 1, closedBy: { server: 1 } });
  });

  it('an HTTP/1.1 request on the h2c port is recorded as an error and the listener stays up', async () => {
    const lab = await startLab({ h2cPort: 0 });
    await fetch(lab.address().h2cUrl!).catch(() => undefined);
    await waitUntil('closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.error).toBe(1);
    const session = http2.connect(lab.address().h2cUrl!);
    onCleanup(() => session.destroy());
    expect((await request(session)).status).toBe(200);
  });
});
