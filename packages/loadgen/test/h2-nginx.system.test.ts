import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { startSynCapture } from '../../../test/support/syn-capture.js';
import { connectionsOf, type H2Nginx, hasNginxTls, runH2, startNginx } from './h2-support.js';

/**
 * The lean h2 engine against nginx (an HTTP/2 implementation the lab does not control):
 * sessions = nginx's distinct connections = SYNs on the wire, requests = its log lines,
 * bodies arrive, GOAWAY rotates sessions exactly, flow control carries large responses.
 */
const noNginx = missing('nginx with http_ssl_module and http_v2_module, and openssl', hasNginxTls);
const noCapture = missing('root and tcpdump (SYNs on loopback)', isRoot() && hasCommand('tcpdump'));
const portOf = (url: string) => Number(new URL(url).port);

describe.skipIf(noNginx)('--engine h2 against nginx', () => {
  let nginx: H2Nginx;
  beforeAll(async () => {
    nginx = await startNginx();
  }, 20_000);
  afterAll(() => nginx?.stop());

  it.each([
    ['h2c (prior knowledge)', 'h2c'],
    ['TLS (ALPN h2)', 'tls'],
  ] as const)(
    '%s -c 3 --streams 50 -n 3000: 3 sessions = nginx connections = SYNs, 3000 log lines, 2997 reused',
    async (_, which) => {
      nginx.clear();
      const url = nginx[which];
      const capture = noCapture ? null : await startSynCapture(portOf(url));
      const r = await runH2({
        target: url,
        connections: 3,
        streams: 50,
        requests: 3000,
        insecure: which === 'tls' ? true : undefined,
      });
      const syns = await capture?.stop();
      expect(r.errors).toEqual({});
      expect(r.c).toMatchObject({
        sent: 3000,
        ok: 3000,
        failed: 0,
        opened: 3,
        closed: 3,
        reusedRequests: 2997,
        streams: 3000,
      });
      expect(r.c.peerMaxStreams).toBe(128);
      if (which === 'tls') expect(r.c.handshakes).toBe(3);
      if (syns !== undefined) expect(syns).toBe(3);
      const lines = await nginx.lines(3000);
      expect(lines).toHaveLength(3000);
      expect(connectionsOf(lines)).toBe(3);
      expect(new Set(lines.map((l) => `${l.protocol} ${l.status} ${l.method}`))).toEqual(new Set(['HTTP/2.0 200 GET']));
    },
  );

  it('--streams 500 is capped by nginx MAX_CONCURRENT_STREAMS 128: no stream refused, one session', async () => {
    nginx.clear();
    const r = await runH2({ target: nginx.h2c, connections: 1, streams: 500, requests: 2000 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 2000, opened: 1, streams: 2000, peerMaxStreams: 128 });
    expect(connectionsOf(await nginx.lines(2000))).toBe(1);
  });

  it('POST -H X-Test: 1 -b hello: nginx logs the method, the header and a 5-byte body on each of 20 streams', async () => {
    nginx.clear();
    const r = await runH2({
      target: nginx.h2c,
      connections: 1,
      streams: 4,
      requests: 20,
      method: 'POST',
      headers: [['X-Test', '1']],
      body: 'hello',
    });
    expect(r.c).toMatchObject({ ok: 20, failed: 0, opened: 1 });
    const lines = await nginx.lines(20);
    expect(lines.map((l) => `${l.method} ${l.xTest} ${l.contentLength}`)).toEqual(Array(20).fill('POST 1 5'));
  });

  it('a 200 KiB PUT body (above the 64 KiB windows nginx starts with) arrives whole, sent within the flow-control windows', async () => {
    nginx.clear();
    const body = 'b'.repeat(200 * 1024);
    const r = await runH2({
      target: `${nginx.tls}dav/put.bin`,
      insecure: true,
      connections: 1,
      streams: 8,
      requests: 16,
      method: 'PUT',
      body,
      timeoutMs: 5000,
    });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 16, opened: 1 });
    const lines = await nginx.lines(16);
    for (const l of lines) {
      expect(l.method).toBe('PUT');
      expect(l.contentLength).toBe(String(body.length));
      expect(l.requestLength).toBeGreaterThanOrEqual(body.length);
    }
    expect(nginx.putBytes('put.bin')).toBe(body.length);
  });

  it('GOAWAY after 100 streams (keepalive_requests 100): -n 1000 --streams 100 rotates through exactly 10 sessions', async () => {
    nginx.clear();
    const capture = noCapture ? null : await startSynCapture(portOf(nginx.h2cRotating));
    const r = await runH2({ target: nginx.h2cRotating, connections: 1, streams: 100, requests: 1000 });
    const syns = await capture?.stop();
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ sent: 1000, ok: 1000, failed: 0, opened: 10, reusedRequests: 990 });
    // Streams above a GOAWAY's last stream id are opened again on the next session.
    expect(r.c.streams).toBeGreaterThanOrEqual(1000);
    if (syns !== undefined) expect(syns).toBe(10);
    const lines = await nginx.lines(1000);
    expect(lines).toHaveLength(1000);
    expect(connectionsOf(lines)).toBe(10);
  });

  it('flow control: 6 responses of 20 MiB each (connection and stream windows replenished) arrive whole', async () => {
    nginx.clear();
    const r = await runH2({ target: `${nginx.h2c}big`, connections: 1, streams: 3, requests: 6, timeoutMs: 10_000 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 6, opened: 1 });
    const lines = await nginx.lines(6);
    expect(lines.map((l) => l.bytesSent)).toEqual(Array(6).fill(20 * 1024 * 1024));
  });

  it('--no-consume-body: each request is done at its response headers; the unread 20 MiB bodies are cancelled at the end', async () => {
    nginx.clear();
    const started = performance.now();
    const r = await runH2({ target: `${nginx.h2c}big`, connections: 1, streams: 4, requests: 4, consumeBody: false });
    expect(r.c).toMatchObject({ ok: 4, opened: 1, closed: 1 });
    expect(performance.now() - started).toBeLessThan(3000);
    // nginx could not send them whole: the stream windows stayed at 64 KiB.
    const lines = await nginx.lines(4);
    for (const l of lines) expect(l.bytesSent).toBeLessThan(20 * 1024 * 1024);
  });
});
