import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { ReportSchema } from '@kalab/core';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../src/index.js';

let server: Server | null = null;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

/** A raw server that answers every request it reads with `wire`, byte for byte; counts connections. */
async function answering(wire: string): Promise<{ url: string; accepted: () => number }> {
  let accepted = 0;
  server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    let pending = '';
    s.on('data', (d) => {
      pending += d.toString('latin1');
      for (let at = pending.indexOf('\r\n\r\n'); at >= 0; at = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(at + 4);
        s.write(wire, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`, accepted: () => accepted };
}

describe('--engine net reads responses with the strict parser of @kalab/core', () => {
  it('a 103 Early Hints before each 200 is not the response: -n 100 -c 2 counts 100 ok on 2 connections', async () => {
    const srv = await answering(
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello world',
    );
    const report = await runLoad({ target: srv.url, engine: 'net', connections: 2, requests: 100, workers: 1 }).result;
    ReportSchema.parse(report);
    expect(report.requests).toMatchObject({ completed: 100, ok: 100, non2xx: 0, failed: 0 });
    expect(report.connections.opened).toBe(2);
    expect(srv.accepted()).toBe(2);
  });

  it('a malformed header fails each request at once as KALAB_ERR_HTTP_PARSE, and the next opens a new connection', async () => {
    const srv = await answering('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello');
    const started = performance.now();
    const report = await runLoad({
      target: srv.url,
      engine: 'net',
      connections: 1,
      requests: 10,
      workers: 1,
      timeoutMs: 5_000,
    }).result;
    expect(report.requests).toMatchObject({ completed: 0, ok: 0, failed: 10 });
    expect(report.errors).toEqual({ KALAB_ERR_HTTP_PARSE: 10 });
    expect(report.connections.opened).toBe(10);
    // Refused on arrival, not left to the 5 s --timeout.
    expect(performance.now() - started).toBeLessThan(4_000);
  });
});
