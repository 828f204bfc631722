import { DOCTOR_DEFAULTS } from './defaults.js';
import { onlyConnectionErrors, type ProbeContext } from './probe-context.js';

/** Why the sequential run on one connection stopped. */
type MaxRequestsEnd =
  | 'connection-close'
  | 'fin'
  | 'reset'
  | 'error'
  | 'cap'
  | 'byte-cap'
  | 'budget'
  | 'no-response'
  | 'no-connection';

export interface MaxRequestsObservation {
  /** Responses received on the one connection. */
  served: number;
  endedBy: MaxRequestsEnd;
}

/**
 * Sends requests one after another on a single connection until the server says
 * `Connection: close` or closes it, up to a cap. `served` is then the server's
 * maximum requests per connection (nginx `keepalive_requests`, Node
 * `maxRequestsPerSocket`); reaching the cap means no limit was found. It also stops
 * after 32 MiB of bodies, so a large page is not downloaded a thousand times.
 */
export async function measureMaxRequests(
  ctx: ProbeContext,
  cap: number = DOCTOR_DEFAULTS.maxRequestsCap,
): Promise<MaxRequestsObservation> {
  let conn: Awaited<ReturnType<ProbeContext['connect']>>;
  try {
    conn = await ctx.connect();
  } catch (err) {
    onlyConnectionErrors(err);
    return { served: 0, endedBy: 'no-connection' };
  }
  try {
    let served = 0;
    let bytes = 0;
    while (served < cap) {
      if (bytes > DOCTOR_DEFAULTS.maxRequestsBytes) return { served, endedBy: 'byte-cap' };
      if (conn.closed) return { served, endedBy: closeEnd(conn.closeKind) };
      const res = await conn.request(ctx.stepMs(), ctx.signal);
      if (!res) {
        if (conn.closed) return { served, endedBy: closeEnd(conn.closeKind) };
        return { served, endedBy: ctx.signal.aborted ? 'budget' : 'no-response' };
      }
      served++;
      bytes += res.bodyBytes;
      if (res.closeAfter) return { served, endedBy: 'connection-close' };
    }
    return { served, endedBy: 'cap' };
  } finally {
    conn.destroy();
  }
}

function closeEnd(kind: string | undefined): MaxRequestsEnd {
  return kind === 'fin' ? 'fin' : kind === 'reset' ? 'reset' : 'error';
}
