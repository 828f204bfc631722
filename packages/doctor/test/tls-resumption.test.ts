import { constants } from 'node:crypto';
import https from 'node:https';
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDoctor, probeKeepAlive } from '../src/index.js';
import { CERT, KEY } from './fixtures/localhost-cert.js';

const servers: https.Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function serve(options: https.ServerOptions, setup?: (s: https.Server) => void): Promise<string> {
  const server = https.createServer({ key: KEY, cert: CERT, ...options }, (_req, res) => res.end('Hello world'));
  server.keepAliveTimeout = 500;
  setup?.(server);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

/** A TLS 1.2 session-ID cache, as a server without tickets keeps one. */
function sessionIdCache(server: https.Server): void {
  const cache = new Map<string, Buffer>();
  server.on('newSession', (id: Buffer, data: Buffer, cb: () => void) => {
    cache.set(id.toString('hex'), data);
    cb();
  });
  server.on('resumeSession', (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) =>
    cb(null, cache.get(id.toString('hex')) ?? null),
  );
}

const probe = (url: string) => probeKeepAlive(url, { budgetMs: 4_000, rejectUnauthorized: false });

describe('doctor: TLS version, ALPN and session resumption', () => {
  it('node https (TLS 1.3): resumes by ticket', async () => {
    const p = await probe(await serve({}));
    expect(p.tls).toEqual({ version: 'TLSv1.3', alpn: 'http/1.1', resumption: { resumed: true, by: 'ticket' } });
    expect(formatDoctor(p)).toMatch(/TLS\s+TLSv1\.3, ALPN http\/1\.1, resumes sessions: yes \(by ticket\)/);
    expect(p.recommendations.join('\n')).toMatch(/resumes TLS sessions \(by ticket\).*ClientSessionCache/);
  });

  it('TLS 1.2 with tickets: resumes by ticket', async () => {
    const p = await probe(await serve({ maxVersion: 'TLSv1.2' }));
    expect(p.tls).toEqual({ version: 'TLSv1.2', alpn: 'http/1.1', resumption: { resumed: true, by: 'ticket' } });
  });

  it('TLS 1.2 without tickets, with a session-ID cache: resumes by session ID', async () => {
    const p = await probe(
      await serve({ maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET }, sessionIdCache),
    );
    expect(p.tls).toEqual({ version: 'TLSv1.2', alpn: 'http/1.1', resumption: { resumed: true, by: 'session-id' } });
  });

  it('TLS 1.2 without tickets or a cache: does not resume, and says what that costs', async () => {
    const p = await probe(await serve({ maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET }));
    expect(p.tls).toEqual({ version: 'TLSv1.2', alpn: 'http/1.1', resumption: { resumed: false, by: null } });
    expect(p.recommendations.join('\n')).toMatch(
      /does not resume TLS sessions: every new connection pays a full handshake/,
    );
  });

  it('http:// has no tls section', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => res.end('Hello world'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const p = await probeKeepAlive(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, {
        budgetMs: 2_000,
      });
      expect(p.tls).toBeNull();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
