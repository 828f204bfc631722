import { describe, expect, it } from 'vitest';
import { findingsFor, secondsToExhaustion } from '../src/index.js';

describe('findingsFor', () => {
  it('says responses are not consumed at 1.0 requests per connection', () => {
    const f = findingsFor({ requests: 10, connectionsOpened: 10, keepAlive: true, consumeBody: false });
    expect(f.map((x) => x.id)).toEqual(['one-request-per-connection']);
    expect(f[0]!.message).toMatch(/^1 requests per connection: responses are not being consumed/);
  });

  it('does not blame the run for its own size: -n 10 over -c 10 is 1 request per connection by arithmetic', () => {
    expect(findingsFor({ requests: 10, connectionsOpened: 10, connections: 10, keepAlive: true })).toEqual([]);
    expect(findingsFor({ requests: 40, connectionsOpened: 40, connections: 50, keepAlive: true })).toEqual([]);
    // More connections than the concurrency: the client failed to reuse them.
    const f = findingsFor({ requests: 10, connectionsOpened: 10, connections: 1, keepAlive: true });
    expect(f.map((x) => x.id)).toEqual(['one-request-per-connection']);
    // Connections replaced because the client's own --timeout gave up on their requests.
    expect(
      findingsFor({ requests: 10, connectionsOpened: 12, connections: 2, keepAlive: true, errors: { ETIMEDOUT: 10 } }),
    ).toEqual([]);
  });

  it('turns TIME_WAIT growth into a time to exhaustion', () => {
    const f = findingsFor({ timeWaitPerSec: 900, ephemeralRange: [32768, 60999], ephemeralInUse: 0 });
    expect(f[0]!.message).toBe('TIME_WAIT grows 900/s: the 28,232-port range is exhausted in ~32 s.');
    expect(f[0]!.severity).toBe('error');
    expect(secondsToExhaustion([32768, 60999], 28232, 10)).toBe(0);
  });

  it('explains EADDRNOTAVAIL and resets on reused connections, errors first', () => {
    const f = findingsFor({
      errors: { EADDRNOTAVAIL: 3, ECONNRESET: 2 },
      reusedRequests: 5,
      requests: 100,
      connectionsOpened: 10,
      ephemeralRange: [40000, 40999],
    });
    expect(f.map((x) => x.id)).toEqual(['ephemeral-ports-exhausted', 'reset-on-reuse', 'connections-reused']);
    expect(f[0]!.message).toContain('40000–40999, 1,000 ports');
  });

  it('treats EADDRINUSE of connections bound to a source address as exhaustion too', () => {
    const f = findingsFor({ errors: { EADDRINUSE: 7 } });
    expect(f.map((x) => x.id)).toEqual(['ephemeral-ports-exhausted']);
    expect(f[0]!.message).toMatch(/^connect\(\) failed with EADDRNOTAVAIL\/EADDRINUSE 7 times/);
  });

  it('blames a small idle pool when connections churn under concurrency', () => {
    const f = findingsFor({ requests: 100, connectionsOpened: 63, connections: 10, maxIdle: 2 });
    expect(f.map((x) => x.id)).toEqual(['idle-pool-too-small']);
  });
});
