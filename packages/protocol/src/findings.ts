import type { Finding } from './report.js';

/**
 * What the finding rules look at. Every field is optional: a rule only fires when the
 * measurements it needs are present (a loadgen report, a monitor snapshot, a scenario).
 */
export interface FindingInput {
  /** Requests that got a response. */
  requests?: number;
  /** TCP connections opened by the client (SYNs). */
  connectionsOpened?: number;
  /** Requests that went over an already used connection. */
  reusedRequests?: number;
  durationMs?: number;
  errors?: Record<string, number>;
  /** Client configuration, when known. */
  keepAlive?: boolean;
  consumeBody?: boolean;
  /**
   * Pool size / concurrency and idle connections kept (node maxFreeSockets, Go MaxIdleConnsPerHost).
   * With `connections` known, a low request-per-connection ratio is blamed on the client or
   * server only when more connections were opened than that (never on the run's own size).
   */
  connections?: number;
  maxIdle?: number;
  /** This host's TIME_WAIT sockets now, and their growth per second. */
  timeWait?: number;
  timeWaitPerSec?: number;
  ephemeralRange?: readonly [number, number] | null;
  ephemeralInUse?: number;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

/** The size of an ip_local_port_range, inclusive. */
export function rangeSize(range: readonly [number, number]): number {
  return range[1] - range[0] + 1;
}

/** Seconds until the ephemeral range is full at `perSec` growth; null when not growing. */
export function secondsToExhaustion(range: readonly [number, number], inUse: number, perSec: number): number | null {
  if (!(perSec > 0)) return null;
  return Math.max(0, (rangeSize(range) - inUse) / perSec);
}

/** Turns measurements into plain-language diagnoses, most severe first. */
export function findingsFor(input: FindingInput): Finding[] {
  const out: Finding[] = [];
  const errors = input.errors ?? {};
  const requests = input.requests ?? 0;
  const opened = input.connectionsOpened ?? 0;
  const rpc = opened > 0 ? requests / opened : 0;

  // A connect() that picks its own port fails with EADDRNOTAVAIL when the range is full; one
  // bound first to a chosen source address (--local-address) fails with EADDRINUSE instead.
  const addrNotAvail = (errors['EADDRNOTAVAIL'] ?? 0) + (errors['EADDRINUSE'] ?? 0);
  if (addrNotAvail > 0) {
    const range = input.ephemeralRange;
    const where = range ? ` (${range[0]}–${range[1]}, ${fmt(rangeSize(range))} ports)` : '';
    out.push({
      id: 'ephemeral-ports-exhausted',
      severity: 'error',
      message: `connect() failed with ${errors['EADDRINUSE'] ? 'EADDRNOTAVAIL/EADDRINUSE' : 'EADDRNOTAVAIL'} ${fmt(addrNotAvail)} times: the ephemeral port range${where} is exhausted, mostly by sockets in TIME_WAIT. Reuse connections (keep-alive), spread source addresses (--local-address) or widen ip_local_port_range.`,
    });
  }

  if (input.ephemeralRange && input.timeWaitPerSec !== undefined && input.timeWaitPerSec > 1) {
    const inUse = input.ephemeralInUse ?? input.timeWait ?? 0;
    const eta = secondsToExhaustion(input.ephemeralRange, inUse, input.timeWaitPerSec);
    if (eta !== null) {
      out.push({
        id: 'time-wait-growth',
        severity: eta < 60 ? 'error' : 'warn',
        message: `TIME_WAIT grows ${fmt(input.timeWaitPerSec)}/s: the ${fmt(rangeSize(input.ephemeralRange))}-port range is exhausted in ~${fmt(Math.ceil(eta))} s.`,
      });
    }
  } else if (
    input.ephemeralRange &&
    input.ephemeralInUse !== undefined &&
    input.ephemeralInUse > 0.8 * rangeSize(input.ephemeralRange)
  ) {
    out.push({
      id: 'ephemeral-ports-nearly-full',
      severity: 'error',
      message: `${fmt(input.ephemeralInUse)} of ${fmt(rangeSize(input.ephemeralRange))} ephemeral ports are in use: new connections will soon fail with EADDRNOTAVAIL.`,
    });
  }

  const resets = errors['ECONNRESET'] ?? 0;
  if (resets > 0 && (input.reusedRequests ?? 0) > 0) {
    out.push({
      id: 'reset-on-reuse',
      severity: 'warn',
      message: `${fmt(resets)} requests failed with ECONNRESET while connections were being reused: the server closes idle connections the client still thinks usable. Keep the client's idle timeout below the server's keep-alive timeout, or retry idempotent requests.`,
    });
  }

  const refused = errors['ECONNREFUSED'] ?? 0;
  if (refused > 0) {
    out.push({
      id: 'connection-refused',
      severity: 'error',
      message: `${fmt(refused)} connections were refused: nothing is listening at the target.`,
    });
  }

  if (opened > 0 && requests >= 10) {
    if (rpc <= 1.05) {
      if (input.keepAlive === false) {
        out.push({
          id: 'no-keepalive',
          severity: 'info',
          message: `${fmt(rpc, 1)} requests per connection: keep-alive is off, so every request opens (and TIME_WAITs) a connection.`,
        });
      } else if (input.connections === undefined || opened - input.connections > (errors['ETIMEDOUT'] ?? 0)) {
        // Only a client that had to open more connections than it ran at once failed to reuse
        // them: `-n 10` over `-c 10` gets 1 request per connection by its own arithmetic, and
        // each request the client's own --timeout gave up on replaced its connection.
        const why =
          input.consumeBody === false
            ? 'responses are not being consumed, so their connections cannot be reused'
            : 'responses are not being consumed, or the server closes every connection';
        out.push({
          id: 'one-request-per-connection',
          severity: 'warn',
          message: `${fmt(rpc, 1)} requests per connection: ${why}.`,
        });
      }
    } else if (
      input.connections !== undefined &&
      input.maxIdle !== undefined &&
      input.maxIdle < input.connections &&
      opened > input.connections * 1.5
    ) {
      out.push({
        id: 'idle-pool-too-small',
        severity: 'warn',
        message: `${fmt(opened)} connections opened for a concurrency of ${fmt(input.connections)}: only ${fmt(input.maxIdle)} idle connections are kept (node maxFreeSockets, Go MaxIdleConnsPerHost), so the others are closed after each request and reopened. Keep as many idle as you run concurrently.`,
      });
    } else if (rpc >= 2) {
      out.push({
        id: 'connections-reused',
        severity: 'info',
        message: `${fmt(rpc, 1)} requests per connection: connections are being reused.`,
      });
    }
  }

  const rank = { error: 0, warn: 1, info: 2 } as const;
  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}

/** One remote endpoint as `kalab observe` saw a program use it. */
export interface ObservedRemote {
  remote: string;
  /** Connections to it (each a SYN). */
  opened: number;
  /** Most connections to it open at once. */
  peakOpen: number;
  /** In how many different seconds new connections to it were opened, and over how many seconds from the first to the last. */
  openingSeconds: number;
  openingSpanSeconds?: number;
  /** Its connections whose client side closed first. */
  closedByClient?: number;
  /** Requests sent to it, when known (the lab server's ledger, a capture). */
  requests?: number;
}

export interface ObservedInput {
  durationMs: number;
  remotes: readonly ObservedRemote[];
  timeWait: number;
  failed?: number | null;
  resetsReceived?: number | null;
  ephemeralRange?: readonly [number, number] | null;
}

/**
 * Findings about a program observed from outside (`kalab observe`): per remote endpoint,
 * whether its connections were reused, churned through a too-small idle pool, or left open.
 */
export function observedFindings(input: ObservedInput): Finding[] {
  const out: Finding[] = [];
  const secs = Math.max(1, Math.ceil(input.durationMs / 1000));
  for (const r of input.remotes) {
    if (r.opened < 5) {
      if (r.requests !== undefined && r.opened > 0 && r.requests >= 2 * r.opened)
        out.push({
          id: 'observe-reused',
          severity: 'info',
          message: `${fmt(r.requests)} requests on ${fmt(r.opened)} connection${r.opened === 1 ? '' : 's'} to ${r.remote}: connections were reused.`,
        });
      continue;
    }
    const head = `${fmt(r.opened)} connections to ${r.remote} in ${fmt(secs)} s`;
    const rpc = r.requests !== undefined ? r.requests / r.opened : undefined;
    // peakOpen 0: every connection came and went between two samples, so their overlap is unknown.
    const span = Math.max(r.openingSpanSeconds ?? r.openingSeconds, 1);
    if (rpc !== undefined && rpc >= 2 && (r.peakOpen === 0 || r.opened <= r.peakOpen * 1.5)) {
      out.push({
        id: 'observe-reused',
        severity: 'info',
        message: `${fmt(r.requests!)} requests on ${fmt(r.opened)} connections to ${r.remote} (${fmt(rpc, 1)} per connection): connections were reused.`,
      });
    } else if (rpc !== undefined && rpc <= 1.05) {
      out.push({
        id: 'observe-no-reuse',
        severity: 'warn',
        message: `${head} for ${fmt(r.requests!)} requests: nothing was reused — are response bodies read and closed?`,
      });
    } else if (r.opened > r.peakOpen * 1.5 && (r.closedByClient ?? r.opened) >= r.opened / 2) {
      out.push({
        id: 'observe-pool-churn',
        severity: 'warn',
        message: `${head}, ${r.peakOpen > 0 ? `at most ${fmt(r.peakOpen)} open at once` : 'each closed before the next sample'}: the client closed connections after use and opened new ones${rpc !== undefined ? ` (${fmt(rpc, 1)} requests per connection)` : ''}. Its idle pool keeps fewer connections than it uses at once — Go's MaxIdleConnsPerHost defaults to 2, node's maxFreeSockets to 256 — or keep-alive is off.`,
      });
    } else if (rpc === undefined && r.openingSeconds >= Math.max(3, span / 2)) {
      // New connections second after second while the earlier ones were not closed by the client: not reused.
      out.push({
        id: 'observe-no-reuse',
        severity: 'warn',
        message: `${head} (opened one after another): nothing was reused — are response bodies read and closed?`,
      });
    }
  }
  if (input.failed) {
    out.push({
      id: 'observe-connect-failed',
      severity: 'warn',
      message: `${fmt(input.failed)} connection attempts failed (refused, or reset during the handshake).`,
    });
  }
  if (input.resetsReceived) {
    out.push({
      id: 'observe-resets',
      severity: 'warn',
      message: `${fmt(input.resetsReceived)} established connections were reset by their peer.`,
    });
  }
  if (input.ephemeralRange && input.timeWait >= 100) {
    out.push(
      ...findingsFor({
        ephemeralRange: input.ephemeralRange,
        timeWait: input.timeWait,
        timeWaitPerSec: input.timeWait / secs,
      }),
    );
  }
  const rank = { error: 0, warn: 1, info: 2 } as const;
  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}
