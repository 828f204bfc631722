import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { get, startLab, waitUntil } from './helpers.js';

/** Sends raw bytes, collects what the server answers until it closes (bounded). */
function rawExchange(
  port: number,
  send: (socket: net.Socket) => void,
  timeoutMs = 10_000,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server did not close within ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 200))}`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
    });
    // A reset after the answer is fine: what matters is what arrived and that it closed.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0 });
    });
    socket.on('connect', () => send(socket));
  });
}

describe('bad input is answered, recorded as error, and never takes the server down', () => {
  it('a malformed request line gets 400', async () => {
    const lab = await startLab();
    const r = await rawExchange(lab.port, (s) => s.write('HELLO THERE\r\n\r\n'));
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    await waitUntil('recorded', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy.error).toBe(1);
    expect(Object.keys(lab.ledger.errors)).toHaveLength(1);
    expect(Object.keys(lab.ledger.errors)[0]).toMatch(/^HPE_/);
    expect((await get(lab.url, { agent: false })).body).toBe('Hello world');
  });

  it('headers over 16 KiB get 431', async () => {
    const lab = await startLab();
    const r = await rawExchange(lab.port, (s) =>
      s.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`),
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 431 /);
    await waitUntil('recorded', () => lab.ledger.closed === 1);
    expect(lab.ledger.errors).toEqual({ HPE_HEADER_OVERFLOW: 1 });
    expect((await get(lab.url, { agent: false })).status).toBe(200);
  });

  it('headers trickled byte by byte are cut by headersTimeout with 408', async () => {
    const lab = await startLab({ headersTimeout: 500 });
    const request = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'z'.repeat(200);
    let timer: NodeJS.Timeout | undefined;
    const r = await rawExchange(lab.port, (s) => {
      let i = 0;
      timer = setInterval(() => {
        if (s.destroyed || i >= request.length) return clearInterval(timer);
        s.write(request[i++]!);
      }, 20);
      s.on('close', () => clearInterval(timer));
    });
    clearInterval(timer);
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    // Cut near the configured 500 ms (the sweep runs every 125 ms), long before the 4 s trickle ends.
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(450);
    expect(r.closedAfterMs).toBeLessThan(3000);
    await waitUntil('recorded', () => lab.ledger.closed === 1);
    expect(lab.ledger.errors).toEqual({ ERR_HTTP_REQUEST_TIMEOUT: 1 });
    expect(lab.stats().connections.closedBy.error).toBe(1);
    expect((await get(lab.url, { agent: false })).status).toBe(200);
  });

  it('a client that resets its connection (RST) is recorded as closed by the client, with ECONNRESET counted', async () => {
    // Like wrk when it stops: a request is in flight (the server is still delaying it).
    const lab = await startLab({ delayUs: 300_000 });
    const s = net.connect(lab.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the request arrived', () => lab.ledger.requests === 1);
    s.resetAndDestroy();
    await waitUntil('closed', () => lab.ledger.closed === 1);
    expect(lab.stats().connections.closedBy).toMatchObject({ client: 1, error: 0 });
    expect(lab.ledger.errors).toEqual({ ECONNRESET: 1 });
  });

  it('all three in a row leave the server answering and the ledger with three errors', async () => {
    const lab = await startLab({ headersTimeout: 300 });
    await rawExchange(lab.port, (s) => s.write('BAD\r\n\r\n'));
    await rawExchange(lab.port, (s) => s.write(`GET / HTTP/1.1\r\nX: ${'b'.repeat(20_000)}\r\n\r\n`));
    await rawExchange(lab.port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    expect((await get(lab.url, { agent: false })).status).toBe(200);
    await waitUntil('4 closed', () => lab.ledger.closed === 4);
    expect(lab.stats().connections.closedBy).toMatchObject({ error: 3 });
    expect(lab.ledger.errors.HPE_HEADER_OVERFLOW).toBe(1);
    expect(lab.ledger.errors.ERR_HTTP_REQUEST_TIMEOUT).toBe(1);
  });
});
