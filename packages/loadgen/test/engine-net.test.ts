import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ReportSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dialer } from '../src/dial.js';
import { Driver } from '../src/driver.js';
import { createNetEngine } from '../src/engine-net.js';
import { runLoad } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { requestShape } from '../src/request-shape.js';
import { WorkerStats } from '../src/worker-stats.js';

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

describe('net -p: the requests one read sets off leave in one write', () => {
  /**
   * A dialer whose socket is a stream that records how many requests each write call
   * carried (`write` one, `writev` several) and answers them all in one read, through the
   * engine's own `onread` buffer, as a loopback peer would.
   */
  function recordingDialer(): { dial: Dialer; writes: number[] } {
    const writes: number[] = [];
    const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const dial: Dialer = (o = {}) => {
      const onread = o.onread!;
      // What was written in one turn of the event loop is read by the peer at once, and answered in one read.
      let owed = 0;
      const answer = (k: number) => {
        if (owed === 0)
          setImmediate(() => {
            const n = (onread.buffer as Buffer).write(RESPONSE.repeat(owed), 'latin1');
            owed = 0;
            (onread.callback as (n: number, b: Buffer) => void)(n, onread.buffer as Buffer);
          });
        owed += k;
      };
      const s = new Duplex({
        read() {},
        write(_chunk, _enc, cb) {
          writes.push(1);
          answer(1);
          cb();
        },
        writev(chunks, cb) {
          writes.push(chunks.length);
          answer(chunks.length);
          cb();
        },
      });
      setImmediate(() => s.emit('connect'));
      return s as unknown as Socket;
    };
    return { dial, writes };
  }

  it.each([
    [8, 8],
    [1, 1],
  ])('-c 1 -p %i -n 800: after the first round every write carries %i requests', async (p, each) => {
    const options = resolveOptions({ target: 'http://127.0.0.1:9/', connections: 1, pipelining: p, requests: 800 });
    const stats = new WorkerStats(0);
    const { dial, writes } = recordingDialer();
    const url = new URL(options.target);
    const slice = { index: 0, connections: 1, requests: 800, rate: null, maxIdle: 0 };
    const engine = createNetEngine({
      options,
      slice,
      url,
      stats,
      nextLocalAddress: () => undefined,
      shape: requestShape(url, 'GET', [], null),
      dial,
    });
    const driver = new Driver(engine, stats, { slice, perConnection: p, durationMs: null });
    driver.start();
    await driver.finished;
    await engine.close();
    expect(stats.c.ok).toBe(800);
    expect(writes.reduce((a, b) => a + b, 0)).toBe(800);
    // The first round is written as the driver starts each slot; every later one in one writev.
    expect(writes.slice(p)).toEqual(Array((800 - p) / each).fill(each));
  });
});
