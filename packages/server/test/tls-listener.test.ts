import { X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http2 from 'node:http2';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, generateCertificate, resolveServerOptions } from '../src/index.js';
import { onCleanup, startLab, waitUntil } from './helpers.js';

interface Ended {
  method: string;
  url: string;
  headers: string[];
  bodyBytes: number;
  connection: { id: number; protocol: string };
}

function recordRequests(): Ended[] {
  const seen: Ended[] = [];
  const fn = (m: unknown) => {
    const e = m as Ended & { connection: { id: number; protocol: string } };
    seen.push({
      method: e.method,
      url: e.url,
      headers: [...e.headers],
      bodyBytes: e.bodyBytes,
      connection: { id: e.connection.id, protocol: e.connection.protocol },
    });
  };
  subscribe(CHANNEL_NAMES.requestEnd, fn);
  onCleanup(() => unsubscribe(CHANNEL_NAMES.requestEnd, fn));
  return seen;
}

function httpsRequest(
  url: string,
  ca: string,
  o: { method: string; body?: string; agent?: https.Agent; headers?: Record<string, string> },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: o.method, ca, agent: o.agent, headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('kalab server --tls', () => {
  it('generates a certificate for 127.0.0.1, ::1 and localhost and says its SHA-256 fingerprint', async () => {
    const lab = await startLab({ tls: true });
    const cert = lab.address().certificate!;
    expect(lab.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cert.generated).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.fingerprint256).toBe(new X509Certificate(cert.cert).fingerprint256);
    // Serving TLS: the stats have a tls section from the start.
    expect(lab.stats().tls).toEqual({ handshakes: 0, resumed: 0 });
    // A plain server has none.
    const plain = await startLab();
    expect(plain.stats().tls).toBeUndefined();
  });

  it('answers every method, reads and counts each body; the request-end channel shows method, header and bytes', async () => {
    const lab = await startLab({ tls: true });
    const ca = lab.address().certificate!.cert;
    const seen = recordRequests();
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    onCleanup(() => agent.destroy());
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET', 'HEAD']) {
      const withBody = method !== 'GET' && method !== 'HEAD';
      const r = await httpsRequest(`${lab.url}/x`, ca, {
        method,
        agent,
        // node:http frames an OPTIONS body by nothing unless told: say Content-Length.
        headers: { 'X-Test': '1', ...(withBody ? { 'Content-Length': '5' } : {}) },
        ...(withBody ? { body: 'hello' } : {}),
      });
      expect(r.status).toBe(200);
      expect(r.body).toBe(method === 'HEAD' ? '' : 'Hello world');
    }
    expect(seen.map((e) => [e.method, e.bodyBytes])).toEqual([
      ['POST', 5],
      ['PUT', 5],
      ['PATCH', 5],
      ['DELETE', 5],
      ['OPTIONS', 5],
      ['GET', 0],
      ['HEAD', 0],
    ]);
    for (const e of seen)
      expect(e.headers.slice(e.headers.indexOf('X-Test'), e.headers.indexOf('X-Test') + 2)).toEqual(['X-Test', '1']);
    expect(lab.ledger.bodyBytes).toBe(25);
    // One keep-alive connection carried all seven: one handshake.
    expect(lab.stats().tls).toEqual({ handshakes: 1, resumed: 0 });
    expect(new Set(seen.map((e) => e.connection.id)).size).toBe(1);
  });

  it('the ledger records each handshake: full, then resumed with the first session; version and ALPN', async () => {
    const lab = await startLab({ tls: true });
    const ca = lab.address().certificate!.cert;
    const dial = (session?: Buffer) =>
      new Promise<{ reused: boolean; session: Buffer | null }>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: lab.port, ca, ALPNProtocols: ['http/1.1'], session });
        let got: Buffer | null = null;
        let reused = false;
        s.once('session', (b: Buffer) => {
          got = b;
        });
        s.once('secureConnect', () => {
          reused = s.isSessionReused();
          s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        });
        s.on('data', () => {});
        s.once('close', () => resolve({ reused, session: got }));
        s.once('error', reject);
      });
    const first = await dial();
    expect(first.reused).toBe(false);
    expect(first.session).not.toBeNull();
    const second = await dial(first.session!);
    expect(second.reused).toBe(true);
    await waitUntil('2 closed', () => lab.ledger.closed === 2);
    expect(lab.stats().tls).toEqual({ handshakes: 2, resumed: 1 });
    expect(lab.ledger.recentlyClosed().map((r) => r.tls)).toEqual([
      { resumed: false, protocol: 'TLSv1.3', alpn: 'http/1.1' },
      { resumed: true, protocol: 'TLSv1.3', alpn: 'http/1.1' },
    ]);
  });

  it('--h2 offers HTTP/2 by ALPN on the TLS port: one h2 connection carries 20 streams with bodies', async () => {
    const lab = await startLab({ tls: true, h2: true });
    const ca = lab.address().certificate!.cert;
    const seen = recordRequests();
    const session = http2.connect(lab.url, { ca });
    onCleanup(() => session.destroy());
    const one = () =>
      new Promise<number>((resolve, reject) => {
        const st = session.request({ ':method': 'POST', ':path': '/', 'x-test': '1' });
        st.on('response', (h) => resolve(Number(h[':status'])));
        st.on('error', reject);
        st.resume();
        st.end('hello');
      });
    const statuses = await Promise.all(Array.from({ length: 20 }, one));
    expect(statuses).toEqual(Array(20).fill(200));
    expect(seen).toHaveLength(20);
    expect(seen.every((e) => e.method === 'POST' && e.bodyBytes === 5 && e.connection.protocol === 'h2')).toBe(true);
    expect(lab.stats().tls).toEqual({ handshakes: 1, resumed: 0 });
    expect(lab.ledger.openConnections()[0]!.tls).toEqual({ resumed: false, protocol: 'TLSv1.3', alpn: 'h2' });
  });

  it('--cert/--key serve the given certificate; one without the other, a key of another certificate, no PEM: BadOptionError naming it', async () => {
    const a = await generateCertificate();
    const b = await generateCertificate();
    const lab = await startLab({ cert: a.cert, key: a.key });
    expect(lab.address().certificate).toMatchObject({ generated: false, fingerprint256: a.fingerprint256 });
    const r = await httpsRequest(`${lab.url}/`, a.cert, { method: 'GET' });
    expect(r.status).toBe(200);
    const optionOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(BadOptionError);
        return (err as BadOptionError).option;
      }
      return null;
    };
    const names = { cert: '--cert', key: '--key', h2: '--h2', tls: '--tls' };
    expect(optionOf(() => resolveServerOptions({ cert: a.cert }, names))).toBe('--cert');
    expect(optionOf(() => resolveServerOptions({ key: a.key }, names))).toBe('--key');
    expect(optionOf(() => resolveServerOptions({ cert: a.cert, key: b.key }, names))).toBe('--key');
    expect(optionOf(() => resolveServerOptions({ cert: 'not a certificate', key: a.key }, names))).toBe('--cert');
    expect(optionOf(() => resolveServerOptions({ h2: true }, names))).toBe('--h2');
  });
});
