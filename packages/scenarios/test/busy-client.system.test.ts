import { createServer, type Server, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { createLabServer } from '@kalab/server';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { startCloseCapture } from '../../../test/support/syn-capture.js';
import type { BusyClientInput, BusyClientOutput } from '../src/drivers/busy-client.js';

const noCapture = missing('root and tcpdump (FINs and RSTs on loopback)', isRoot() && hasCommand('tcpdump'));

// The worker file as the race driver loads it (dist/drivers/busy-client.js): CI builds before testing.
const BUSY_CLIENT = new URL('../dist/drivers/busy-client.js', import.meta.url);

function runBusyClient(input: BusyClientInput): Promise<BusyClientOutput> {
  const worker = new Worker(BUSY_CLIENT, { workerData: input });
  return new Promise<BusyClientOutput>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`busy client exited with ${code}`)));
  }).finally(() => worker.terminate());
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

/** The lab server with a 300 ms idle close, as keepalive-race runs it. */
async function labServer(): Promise<number> {
  const lab = createLabServer({ host: '127.0.0.1', port: 0, keepAliveTimeout: 300, shutdownGraceMs: 0 });
  const { port } = await lab.listen();
  cleanup.push(() => lab.close({ graceMs: 0 }));
  return port;
}

/** A keep-alive server that answers the first request of each connection and never the next ones. */
async function silentAfterFirst(): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let answered = false;
    socket.on('data', () => {
      if (answered) return;
      answered = true;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as { port: number }).port, server };
}

describe('keepalive-race busy client (worker file loaded by URL)', () => {
  it("meets the server's idle close: its FIN (EPEERCLOSED) on the reused socket, the RST it drew on the wire, fast, not a timeout", async () => {
    const port = await labServer();
    const capture = noCapture ? null : await startCloseCapture(port);
    const out = await runBusyClient({
      host: '127.0.0.1',
      port,
      idleCloseMs: 300,
      tries: 3,
      retry: false,
      timeoutMs: 2000,
    });
    const wire = await capture?.stop();
    const reset = out.requests.find((r) => !r.ok);
    // The client read the server's FIN before any answer: EPEERCLOSED, though its request, written
    // into the closed connection, drew a RST from the server's kernel (one, and one FIN per connection).
    expect(reset).toMatchObject({ ok: false, reused: true, code: 'EPEERCLOSED' });
    if (wire) expect(wire).toEqual({ fin: out.connectUs.length, rst: 1 });
    expect(reset!.retry).toBeUndefined();
    // The server's FIN was already there: the reset comes back at once, far inside the 2 s timeout.
    expect(reset!.ms).toBeLessThan(500);
    // The loop stops at its first reset; every request before it got its answer.
    expect(out.requests.at(-1)).toBe(reset);
    for (const r of out.requests.slice(0, -1)) expect(r).toMatchObject({ ok: true, status: 200 });
    // Each request that did not reuse a connection opened one, and every one was closed by the end.
    expect(out.connectUs).toHaveLength(out.requests.filter((r) => !r.reused).length);
    expect(out.closed).toBe(out.connectUs.length);
  });

  it('with retry, sends the reset request again on a connection of its own', async () => {
    const port = await labServer();
    const out = await runBusyClient({
      host: '127.0.0.1',
      port,
      idleCloseMs: 300,
      tries: 3,
      retry: true,
      timeoutMs: 2000,
    });
    const reset = out.requests.at(-1)!;
    expect(reset).toMatchObject({ ok: false, reused: true, code: 'EPEERCLOSED' });
    expect(reset.retry).toMatchObject({ ok: true, status: 200, reused: false });
    // The retry's connection is one more than the requests that did not reuse one.
    expect(out.connectUs).toHaveLength(out.requests.filter((r) => !r.reused).length + 1);
  });

  it('a request the server never answers fails as ETIMEDOUT after timeoutMs, not as the race', async () => {
    const { port } = await silentAfterFirst();
    const timeoutMs = 400;
    const out = await runBusyClient({ host: '127.0.0.1', port, idleCloseMs: 100, tries: 1, retry: true, timeoutMs });
    expect(out.requests).toHaveLength(2);
    expect(out.requests[0]).toMatchObject({ ok: true, status: 200, reused: false });
    const timed = out.requests[1]!;
    expect(timed).toMatchObject({ ok: false, reused: true, code: 'ETIMEDOUT' });
    // Not the race, so not retried.
    expect(timed.retry).toBeUndefined();
    // Timed out at timeoutMs, with 250 ms of tolerance for a busy CI machine.
    expect(timed.ms).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(timed.ms).toBeLessThan(timeoutMs + 250);
    expect(out.connectUs).toHaveLength(1);
  });
});
