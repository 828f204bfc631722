import { CLOSE_REASONS, type LedgerStats } from './connection-ledger.js';

/** The ledger summary `kalab server` prints on shutdown: a pure function of the stats. */
export function formatLedgerSummary(stats: LedgerStats, errors: Record<string, number> = {}): string {
  const c = stats.connections;
  const lines = [
    `ledger: ${c.opened} connection${c.opened === 1 ? '' : 's'} opened, ${c.open} open, ${c.closed} closed; ` +
      `${stats.requests.total} request${stats.requests.total === 1 ? '' : 's'} ` +
      `(${stats.requestsPerConnection.mean} per connection, max ${stats.requestsPerConnection.max})`,
    `closed by: ${CLOSE_REASONS.map((r) => `${r} ${c.closedBy[r]}`).join(', ')}`,
  ];
  const codes = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (codes.length > 0) lines.push(`errors: ${codes.map(([code, n]) => `${code} ${n}`).join(', ')}`);
  return lines.join('\n');
}
