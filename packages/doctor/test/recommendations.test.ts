import { describe, expect, it } from 'vitest';
import { advertisedTimeoutMs, clientIdleTimeoutMs, type DoctorProbe, formatDoctor, recommend } from '../src/index.js';

function probe(over: Partial<DoctorProbe> = {}, obs: Partial<DoctorProbe['observations']> = {}): DoctorProbe {
  return {
    target: 'http://127.0.0.1:8080/',
    keepAlive: true,
    advertisedKeepAlive: null,
    idleTimeoutMs: 5_000,
    maxRequestsPerConnection: null,
    pipelining: true,
    http2: { h2c: false, alpn: null },
    tls: null,
    recommendations: [],
    ...over,
    observations: {
      budgetMs: 60_000,
      elapsedMs: 5_100,
      maxOpenConnections: 5,
      first: { statusCode: 200, httpVersion: '1.1', connection: 'keep-alive', closeAfter: false, closeReason: null },
      idle: { samplesMs: [5_000], closeKinds: ['fin'], aliveAfterMs: null, deadAfterMs: null, waitedMs: 0 },
      maxRequests: { served: 1_000, endedBy: 'cap' },
      pipelining: { sent: 3, answered: 3, supported: true },
      http2: { h2c: false, alpn: null },
      ...obs,
    },
  };
}

describe('clientIdleTimeoutMs', () => {
  it('stays below the server by max(1 s, 10 %)', () => {
    expect(clientIdleTimeoutMs(5_000)).toBe(4_000);
    expect(clientIdleTimeoutMs(3_000)).toBe(2_000);
    expect(clientIdleTimeoutMs(60_000)).toBe(54_000);
    expect(clientIdleTimeoutMs(75_000)).toBe(67_500);
    // Under 1 s of headroom: half the server's timeout.
    expect(clientIdleTimeoutMs(800)).toBe(400);
    // A FIN measured a few ms early does not cost a whole 100 ms step.
    expect(clientIdleTimeoutMs(2_999)).toBe(2_000);
    expect(clientIdleTimeoutMs(3_004)).toBe(2_000);
  });
});

describe('advertisedTimeoutMs', () => {
  it('reads timeout= from a Keep-Alive header', () => {
    expect(advertisedTimeoutMs('timeout=5')).toBe(5_000);
    expect(advertisedTimeoutMs('timeout=2, max=5')).toBe(2_000);
    expect(advertisedTimeoutMs('max=100')).toBeNull();
    expect(advertisedTimeoutMs(null)).toBeNull();
  });
});

describe('recommend', () => {
  it('names the exact options of undici, node:http Agent and Go http.Transport for a 5 s server', () => {
    const text = recommend(probe()).join('\n');
    expect(text).toMatch(/keepAliveTimeout: 4000, keepAliveMaxTimeout: 4000/);
    expect(text).toMatch(/keepAliveTimeoutThreshold/);
    expect(text).toMatch(/new http\.Agent\(\{ keepAlive: true, timeout: 4000 \}\)/);
    expect(text).toMatch(/keepAliveMsecs/);
    expect(text).toMatch(/IdleConnTimeout: 4 \* time\.Second/);
    expect(text).toMatch(/MaxIdleConnsPerHost/);
    expect(text).toMatch(/MaxConnsPerHost/);
    expect(text).toMatch(/maxSockets/);
    expect(text).toMatch(/maxFreeSockets/);
    expect(text).toMatch(/`connections`/);
    expect(text).toMatch(/`pipelining`/);
  });

  it('warns when the server closes sooner than its Keep-Alive hint', () => {
    const text = recommend(probe({ advertisedKeepAlive: 'timeout=10', idleTimeoutMs: 5_000 })).join('\n');
    expect(text).toMatch(/closed idle connections after 5\.0 s, sooner/);
  });

  it('says DisableKeepAlives for a server that closes every connection', () => {
    const text = recommend(
      probe(
        { keepAlive: false, idleTimeoutMs: null, maxRequestsPerConnection: 1, pipelining: false },
        {
          first: {
            statusCode: 200,
            httpVersion: '1.1',
            connection: 'close',
            closeAfter: true,
            closeReason: 'connection-close',
          },
          idle: null,
          maxRequests: null,
          pipelining: null,
        },
      ),
    ).join('\n');
    expect(text).toMatch(/DisableKeepAlives: true/);
    expect(text).toMatch(/keepAlive: false/);
    expect(text).toMatch(/pipelining: 0/);
  });

  it('does not call a server non-keep-alive when the budget ran out before a second answer', () => {
    const text = recommend(
      probe(
        { keepAlive: false, idleTimeoutMs: null, pipelining: false },
        { maxRequests: { served: 1, endedBy: 'budget' }, pipelining: null },
      ),
    ).join('\n');
    expect(text).toMatch(/could not be confirmed/);
    expect(text).not.toMatch(/DisableKeepAlives/);
  });

  it('explains a per-connection request limit', () => {
    const text = recommend(
      probe({ maxRequestsPerConnection: 100 }, { maxRequests: { served: 100, endedBy: 'connection-close' } }),
    ).join('\n');
    expect(text).toMatch(/after 100 requests/);
  });

  it('formats the table with one row per finding', () => {
    const p = probe({ maxRequestsPerConnection: 7 }, { maxRequests: { served: 7, endedBy: 'connection-close' } });
    p.recommendations = recommend(p);
    const table = formatDoctor(p);
    expect(table).toMatch(/idle timeout\s+5000 ms \(FIN, 1 connection: 5000 ms\)/);
    expect(table).toMatch(/max requests\/connection\s+7 \(Connection: close on the last\)/);
    expect(table).toMatch(/pipelining\s+yes \(3 of 3 answered\)/);
    expect(table).toMatch(/HTTP\/2\s+h2c: no, ALPN: n\/a/);
  });
});
