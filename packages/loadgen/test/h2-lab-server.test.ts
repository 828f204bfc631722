import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLabServer, type LabServer } from '../../server/src/index.js';
import { runH2 } from './h2-support.js';

/**
 * The lean h2 engine against the lab's own HTTP/2 server (node:http2: h2c with `--h2c-port`,
 * ALPN h2 with `--tls --h2`): the ledger's connections, requests and body bytes agree with
 * what the client counted, also when the server ends sessions with GOAWAY (--max-requests-per-socket).
 */
let lab: LabServer | null = null;
afterEach(async () => {
  await lab?.close({ graceMs: 0 });
  lab = null;
});

async function settled(l: LabServer): Promise<ReturnType<LabServer['stats']>> {
  await vi.waitFor(() => {
    if (l.ledger.openCount > 0) throw new Error('connections still open');
  });
  return l.stats();
}

describe('--engine h2 against kalab server', () => {
  it('h2c (--h2c-port): -c 2 --streams 20 -n 1000 -> 2 sessions in the ledger, 1000 requests, 998 reused', async () => {
    lab = createLabServer({ port: 0, h2cPort: 0 });
    const { h2cUrl } = await lab.listen();
    const r = await runH2({ target: `${h2cUrl}/`, connections: 2, streams: 20, requests: 1000 });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 1000, opened: 2, closed: 2, reusedRequests: 998, streams: 1000 });
    const s = await settled(lab);
    expect(s.connections.opened).toBe(2);
    expect(s.requests.total).toBe(1000);
  });

  it('--tls --h2: -c 2 -n 1000 POST -b hello -> 2 sessions and 2 handshakes on both sides, 5000 body bytes read', async () => {
    lab = createLabServer({ port: 0, tls: true, h2: true });
    const { url } = await lab.listen();
    const r = await runH2({
      target: `${url}/`,
      insecure: true,
      connections: 2,
      streams: 20,
      requests: 1000,
      method: 'POST',
      body: 'hello',
    });
    expect(r.errors).toEqual({});
    expect(r.c).toMatchObject({ ok: 1000, opened: 2, handshakes: 2 });
    const s = await settled(lab);
    expect(s.connections.opened).toBe(2);
    expect(s.tls).toEqual({ handshakes: 2, resumed: 0 });
    expect(s.requests.total).toBe(1000);
    expect(lab.ledger.bodyBytes).toBe(5000);
  });

  it('--max-requests-per-socket 50 (node:http2 GOAWAY): every request answered, sessions = the ledger connections', async () => {
    lab = createLabServer({ port: 0, h2cPort: 0, maxRequestsPerSocket: 50 });
    const { h2cUrl } = await lab.listen();
    const r = await runH2({ target: `${h2cUrl}/`, connections: 1, streams: 10, requests: 500 });
    expect(r.errors).toEqual({});
    expect(r.c.ok).toBe(500);
    const s = await settled(lab);
    expect(r.c.opened).toBeGreaterThanOrEqual(500 / 60);
    expect(s.connections.opened).toBe(r.c.opened);
    // Each session but possibly the last ends by the server's GOAWAY (streams in flight when it came are answered first).
    expect(s.connections.closedBy.maxRequests).toBeGreaterThanOrEqual(r.c.opened - 1);
    expect(s.requests.total).toBe(500);
  });
});
