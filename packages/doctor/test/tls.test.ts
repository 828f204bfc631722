import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { probeKeepAlive } from '../src/index.js';
import { CERT, KEY } from './fixtures/localhost-cert.js';

const servers: net.Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    (s as https.Server).closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function listen(server: net.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

describe('probeKeepAlive over TLS', () => {
  it('probes an https server (keepAliveTimeout 1000, closes after 2 s) and reports ALPN http/1.1', async () => {
    const server = https.createServer({ key: KEY, cert: CERT }, (_req, res) => res.end('Hello world'));
    server.keepAliveTimeout = 1_000;
    const url = await listen(server);
    const p = await probeKeepAlive(url, { budgetMs: 10_000, rejectUnauthorized: false });
    expect(p.keepAlive).toBe(true);
    expect(Math.abs(p.idleTimeoutMs! - 2_000), `measured ${p.idleTimeoutMs} ms`).toBeLessThanOrEqual(200);
    expect(p.http2).toEqual({ h2c: null, alpn: 'http/1.1' });
    expect(p.pipelining).toBe(true);
  });

  it('reports ALPN h2 for an HTTP/2 server that also answers HTTP/1.1', async () => {
    const server = http2.createSecureServer({ key: KEY, cert: CERT, allowHTTP1: true }, (_req, res) =>
      res.end('Hello world'),
    );
    const url = await listen(server);
    const p = await probeKeepAlive(url, { budgetMs: 3_000, rejectUnauthorized: false });
    expect(p.keepAlive).toBe(true);
    expect(p.http2).toEqual({ h2c: null, alpn: 'h2' });
    expect(p.recommendations.join('\n')).toMatch(/allowH2: true/);
    expect(p.observations.elapsedMs).toBeLessThanOrEqual(3_000);
  });

  it("says in one line that an https:// URL on a plain-HTTP port did not answer TLS, not OpenSSL's raw string", async () => {
    const server = http.createServer((_req, res) => res.end('Hello world'));
    const url = await listen(server);
    const port = (server.address() as net.AddressInfo).port;
    const err = await probeKeepAlive(url, { budgetMs: 5_000 }).catch((e: Error) => e);
    expect(err).toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: `cannot reach 127.0.0.1:${port}: the server did not answer TLS: is it plain HTTP?`,
    });
  });

  it('refuses a self-signed certificate by default with KALAB_ERR_UNREACHABLE naming the TLS error', async () => {
    const server = https.createServer({ key: KEY, cert: CERT }, (_req, res) => res.end('Hello world'));
    const url = await listen(server);
    await expect(probeKeepAlive(url, { budgetMs: 5_000 })).rejects.toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: expect.stringMatching(/self[- ]signed/i),
    });
  });
});
