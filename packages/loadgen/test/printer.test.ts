import { REPORT_SCHEMA_ID, type Report, type Tick } from '@kalab/protocol';
import { describe, expect, it } from 'vitest';
import { formatProgress, formatReport } from '../src/index.js';

const report: Report = {
  schema: REPORT_SCHEMA_ID,
  target: 'http://127.0.0.1:8080/',
  engine: 'undici',
  config: {
    connections: 8,
    workers: 2,
    keepAlive: false,
    consumeBody: true,
    requests: 2000,
    durationMs: null,
    rate: null,
    transport: 'net (lean churn engine)',
  },
  durationMs: 1000,
  requests: { sent: 2000, completed: 1990, ok: 1990, non2xx: 0, failed: 10 },
  connections: { opened: 2000, reusedRequests: 0, maxOpen: 8, requestsPerConnection: 1 },
  errors: { EADDRNOTAVAIL: 10 },
  latencyMs: { mean: 1, p50: 0.9, p90: 1.5, p99: 3, p999: 4, max: 5 },
  connectMs: { mean: 0.1, p50: 0.1, p99: 0.4, max: 1 },
  throughput: { rps: 1990 },
  host: { ephemeralRange: [32768, 60999], timeWaitPeak: 2000, ephemeralInUsePeak: 2010 },
  findings: [{ id: 'ephemeral-ports-exhausted', severity: 'error', message: 'ports exhausted' }],
};

describe('formatReport', () => {
  it('prints requests, connections, latency, errors, the host and the findings', () => {
    const text = formatReport(report);
    expect(text).toContain('engine undici (net (lean churn engine))');
    expect(text).toMatch(
      /^requests +1,990 completed in 1 s = 1,990 req\/s {2}\(ok 1,990, non-2xx 0, failed 10, sent 2,000\)$/m,
    );
    expect(text).toMatch(/^connections +2,000 opened, 1 requests per connection/m);
    expect(text).toMatch(/^errors +EADDRNOTAVAIL 10$/m);
    expect(text).toMatch(
      /TIME_WAIT peak 2,000, ephemeral ports in use peak 2,010 of range 32768-60999 \(28,232 ports\)/,
    );
    expect(text).toMatch(/^error +ports exhausted$/m);
  });
});

describe('formatProgress', () => {
  it('is one line with rps, open connections, new connections/s and errors', () => {
    const tick: Tick = {
      v: 1,
      type: 'tick',
      seq: 3,
      at: 0,
      elapsedMs: 3000,
      totals: { requests: 100, connectionsOpened: 100 },
      rates: { rps: 12345.6, newConnPerSec: 999 },
      openConnections: 7,
      errors: { ECONNRESET: 2, EPIPE: 1 },
    };
    const line = formatProgress(tick);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/3 s +12,346 req\/s +7 open +999 new conn\/s +3 errors/);
  });

  it('names the engine that runs when told (the churn engine of --no-keepalive)', () => {
    const tick: Tick = {
      v: 1,
      type: 'tick',
      seq: 0,
      at: 0,
      elapsedMs: 1000,
      totals: { requests: 10, connectionsOpened: 10 },
      rates: { rps: 10, newConnPerSec: 10 },
      openConnections: 0,
      errors: {},
    };
    expect(formatProgress(tick, 'churn')).toMatch(/^churn +1 s +10 req\/s +0 open +10 new conn\/s +0 errors$/);
  });
});

describe('TLS in the progress line and the report', () => {
  it('the progress line adds handshakes/s and resumed % when ticks carry TLS totals', () => {
    const tick: Tick = {
      v: 1,
      type: 'tick',
      seq: 1,
      at: 0,
      elapsedMs: 2000,
      totals: { requests: 400, connectionsOpened: 400, tlsHandshakes: 400, tlsResumed: 396 },
      rates: { rps: 200, newConnPerSec: 200, handshakesPerSec: 200 },
      openConnections: 4,
      errors: {},
    };
    expect(formatProgress(tick)).toMatch(/200 new conn\/s +200 handshakes\/s +99% resumed +0 errors/);
  });

  it('the report has a tls line (handshakes, handshakes/s, resumed %, who decided) and the handshake times', () => {
    const text = formatReport({
      ...report,
      tls: {
        handshakes: 2000,
        resumed: 1992,
        handshakeMs: { mean: 1.2, p50: 1, p99: 3, max: 4 },
        protocols: { 'TLSv1.3': 2000 },
        alpn: { 'http/1.1': 2000 },
        resumeSessions: true,
        resumeSource: '--tls-resume',
      },
    });
    expect(text).toContain(
      'tls          2,000 handshakes = 2,000 handshakes/s, 1,992 resumed (99.6%); sessions offered for resumption (--tls-resume)',
    );
    expect(text).toContain('handshake p50 1 ms  p99 3 ms  max 4 ms  mean 1.2 ms; TLSv1.3 2,000; ALPN http/1.1 2,000');
    expect(formatReport({ ...report, tls: null })).not.toContain('tls ');
  });
});
