import { describe, expect, it } from 'vitest';
import { formatLedgerSummary } from '../src/index.js';

describe('formatLedgerSummary', () => {
  it('prints counts, reasons and error codes', () => {
    const text = formatLedgerSummary(
      {
        connections: {
          opened: 10,
          open: 0,
          closed: 10,
          closedBy: { client: 7, idleTimeout: 1, maxRequests: 0, error: 1, server: 1 },
        },
        requests: { total: 25 },
        requestsPerConnection: { mean: 2.5, max: 9 },
      },
      { HPE_INVALID_METHOD: 1 },
    );
    expect(text.split('\n')).toEqual([
      'ledger: 10 connections opened, 0 open, 10 closed; 25 requests (2.5 per connection, max 9)',
      'closed by: client 7, idleTimeout 1, maxRequests 0, error 1, server 1',
      'errors: HPE_INVALID_METHOD 1',
    ]);
  });
});
