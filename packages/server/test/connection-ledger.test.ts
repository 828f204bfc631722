import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, ConnectionLedger } from '../src/index.js';

const socket = (port: number) => ({
  remoteAddress: '127.0.0.1',
  remotePort: port,
  localAddress: '127.0.0.1',
  localPort: 8080,
});

describe('ConnectionLedger', () => {
  it('counts opens, requests and closes into the stats of docs/server.md', () => {
    const ledger = new ConnectionLedger();
    const a = ledger.open('http1', socket(50001));
    const b = ledger.open('http1', socket(50002));
    ledger.request(a, 'GET', '/');
    ledger.request(a, 'GET', '/');
    ledger.request(b, 'GET', '/');
    ledger.close(a);
    expect(ledger.stats()).toEqual({
      connections: {
        opened: 2,
        open: 1,
        closed: 1,
        closedBy: { client: 1, idleTimeout: 0, maxRequests: 0, error: 0, server: 0 },
      },
      requests: { total: 3 },
      requestsPerConnection: { mean: 1.5, max: 2 },
    });
    expect(a.remote).toBe('127.0.0.1:50001');
    expect(a.local).toBe('127.0.0.1:8080');
  });

  it('keeps the first close reason: a FIN answering Connection: close stays maxRequests', () => {
    const ledger = new ConnectionLedger();
    const c = ledger.open('http1', socket(1));
    ledger.intend(c, 'maxRequests');
    ledger.intend(c, 'client');
    ledger.close(c);
    expect(c.closedBy).toBe('maxRequests');
  });

  it('records error codes, and falls back to error for a close with hadError and no reason', () => {
    const ledger = new ConnectionLedger();
    const a = ledger.open('http1', socket(1));
    ledger.intend(a, 'error', 'HPE_INVALID_METHOD');
    ledger.close(a, true);
    const b = ledger.open('h2c', socket(2));
    ledger.close(b, true);
    ledger.close(b, true);
    expect(ledger.closedBy.error).toBe(2);
    expect(ledger.closed).toBe(2);
    expect(ledger.errors).toEqual({ HPE_INVALID_METHOD: 1, UNKNOWN: 1 });
  });

  it('a client reset is closed by the client and its code is still counted', () => {
    const ledger = new ConnectionLedger();
    const c = ledger.open('http1', socket(1));
    ledger.intend(c, 'client', 'ECONNRESET');
    ledger.close(c, true);
    expect(ledger.closedBy).toMatchObject({ client: 1, error: 0 });
    expect(ledger.errors).toEqual({ ECONNRESET: 1 });
  });

  it('keeps a bounded history of closed connections', () => {
    const ledger = new ConnectionLedger(3);
    for (let i = 0; i < 5; i++) ledger.close(ledger.open('http1', socket(i)));
    expect(ledger.recentlyClosed().map((c) => c.remotePort)).toEqual([2, 3, 4]);
    expect(ledger.stats().connections.closed).toBe(5);
  });

  it('publishes open, request and close on kalab:server:* channels only when subscribed', () => {
    const ledger = new ConnectionLedger();
    const seen: string[] = [];
    const onOpen = (m: unknown) => seen.push(`open ${(m as { connection: { id: number } }).connection.id}`);
    const onRequest = (m: unknown) => seen.push(`request ${(m as { url: string }).url}`);
    const onClose = (m: unknown) =>
      seen.push(`close ${(m as { connection: { closedBy: string } }).connection.closedBy}`);
    expect(diagnosticsChannel.channel(CHANNEL_NAMES.request).hasSubscribers).toBe(false);
    diagnosticsChannel.subscribe(CHANNEL_NAMES.connectionOpen, onOpen);
    diagnosticsChannel.subscribe(CHANNEL_NAMES.request, onRequest);
    diagnosticsChannel.subscribe(CHANNEL_NAMES.connectionClose, onClose);
    try {
      const c = ledger.open('http1', socket(1));
      ledger.request(c, 'GET', '/x');
      ledger.intend(c, 'idleTimeout');
      ledger.close(c);
    } finally {
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.connectionOpen, onOpen);
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.request, onRequest);
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.connectionClose, onClose);
    }
    expect(seen).toEqual(['open 1', 'request /x', 'close idleTimeout']);
  });
});
