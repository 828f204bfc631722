import { urlPort } from '@kalab/core';
import type { ConnectionEvent, Snapshot } from '@kalab/protocol';
import type { HostState } from './host-state.js';

/** Open connections a server announced (conn-events), to age the rows of the connections table. */
const MAX_TRACKED_CONNECTIONS = 10_000;

/**
 * The connections table of a snapshot: socket rows from the hosts' TCP samples, the current
 * run's port first and listeners last, with the age and request count a server's ledger
 * announced for the same peer.
 */
export class ConnectionTable {
  private readonly open = new Map<string, { openedAt: number; requests: number }>();

  constructor(private readonly maxRows: number) {}

  /** A server's connection events, keyed by its host and the peer's address. */
  onEvents(host: string, events: readonly ConnectionEvent[]): void {
    for (const e of events) {
      const key = `${host}\u0000${e.remote}`;
      if (e.kind === 'close') this.open.delete(key);
      else {
        const c = this.open.get(key);
        if (c) c.requests = e.requests ?? (e.kind === 'request' ? c.requests + 1 : c.requests);
        else if (this.open.size < MAX_TRACKED_CONNECTIONS)
          this.open.set(key, { openedAt: e.at, requests: e.requests ?? (e.kind === 'request' ? 1 : 0) });
      }
    }
  }

  rows(hosts: Iterable<HostState>, target: string | undefined, now: number): Snapshot['connections'] {
    const port = portOf(target);
    const rank = (r: { local: string; remote: string; state: string }) =>
      (port !== undefined && (r.local.endsWith(`:${port}`) || r.remote.endsWith(`:${port}`)) ? 0 : 2) +
      (r.state === 'LISTEN' ? 1 : 0);
    const all: { local: string; remote: string; state: string; host: string; rank: number }[] = [];
    for (const h of hosts) for (const r of h.sockets(now)) all.push({ ...r, host: h.name, rank: rank(r) });
    all.sort((a, b) => a.rank - b.rank);
    return all.slice(0, this.maxRows).map((r) => {
      const c = this.open.get(`${r.host}\u0000${r.remote}`);
      return {
        state: r.state,
        local: r.local,
        remote: r.remote,
        ageMs: c ? Math.max(0, now - c.openedAt) : null,
        requests: c ? c.requests : null,
      };
    });
  }
}

/** The port a run's target URL aims at (80/443 when implicit); undefined when it is not a URL. */
export function portOf(target: string | undefined): string | undefined {
  if (!target) return undefined;
  try {
    return String(urlPort(new URL(target)));
  } catch {
    return undefined;
  }
}
