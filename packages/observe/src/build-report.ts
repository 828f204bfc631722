import type { NetstatCounters, SnmpCounters } from '@kalab/core';
import { observedFindings } from '@kalab/protocol';
import type { ConnectionTracker } from './connection-tracker.js';
import type { CaptureView } from './pcap.js';
import { OBSERVE_SCHEMA_ID, type ObserveReport } from './report.js';

/** The namespace kernel's counters before and after (namespace mode only). */
export interface CounterPair {
  before: { snmp: SnmpCounters; netstat: NetstatCounters };
  after: { snmp: SnmpCounters; netstat: NetstatCounters };
}

/** What the lab server's ledger knew about one connection (`--serve`). */
export interface ServedConnection {
  /** The client's endpoint, `127.0.0.1:51000`. */
  remote: string;
  /** The server's endpoint, `127.0.0.1:8080`. */
  local: string;
  requests: number;
  closedBy: string | null;
}

export interface ReportInput {
  command: string;
  mode: 'namespace' | 'pid';
  pid: number | null;
  exitCode: number | null;
  intervalMs: number;
  tracker: ConnectionTracker;
  counters: CounterPair | null;
  sandbox: { portRange: [number, number] | null; tcpTwReuse: number | null } | null;
  serve: { address: string; connections: ServedConnection[] } | null;
  capture: { file: string; view: CaptureView; dropped: number } | null;
  /** --pid: the namespace's ActiveOpens and PassiveOpens deltas (all its processes). */
  namespace?: { activeOpens: number; passiveOpens: number } | null;
}

const LIMITS_NAMESPACE =
  'Opened, accepted, failed and reset counts are the namespace kernel’s counters, exact. Lives come from sampling the TCP table every INTERVAL ms (SAMPLES samples): a connection that leaves a TIME_WAIT is always seen (TIME_WAIT lasts 60 s); one opened and reset between two samples is counted but not listed.';
const LIMITS_PID =
  'Sampled every INTERVAL ms (SAMPLES samples) from the process’s sockets (/proc/PID/fd) and its namespace’s TCP table: a connection opened and closed between two samples is missed unless it leaves a TIME_WAIT here; one closed by the remote side first leaves its TIME_WAIT there and can be missed. Failed attempts, resets and SYNs are not per process: null (`namespace` has the whole namespace’s SYNs sent and connections accepted).';

function delta(a: Record<string, number> | undefined, b: Record<string, number> | undefined, name: string): number {
  return Math.max(0, (b?.[name] ?? 0) - (a?.[name] ?? 0));
}

/** Builds `kalab.observe/v1` from what the observer gathered; a pure function of its input. */
export function buildObserveReport(input: ReportInput): ObserveReport {
  const { tracker, counters } = input;
  const { lives, dropped } = tracker.lives();
  // A capture times every connection exactly: its peak wins over what the samples caught.
  const remotes = tracker.remoteSummaries().map((r) => {
    const captured = input.capture?.view.peakOpen.get(r.remote);
    return captured !== undefined && captured > r.peakOpen ? { ...r, peakOpen: captured } : r;
  });

  const served = new Map<string, ServedConnection>();
  for (const c of input.serve?.connections ?? []) served.set(`${c.remote}>${c.local}`, c);
  const packetsSeen = new Set<string>();
  for (const life of lives) {
    const key = `${life.client}>${life.server}`;
    const s = served.get(key);
    if (s) {
      life.requests = s.requests;
      life.closedBy = s.closedBy;
      served.delete(key); // one ledger record per life, even when a tuple is reused
    }
    const p = input.capture?.view.connections.get(key);
    if (p && !packetsSeen.has(key)) {
      life.packets = { ...p };
      packetsSeen.add(key);
    }
  }

  // Requests per remote, when a ledger or a capture counted them.
  const requestsByRemote = new Map<string, number>();
  if (input.serve) {
    for (const c of input.serve.connections)
      requestsByRemote.set(c.local, (requestsByRemote.get(c.local) ?? 0) + c.requests);
  } else if (input.capture) {
    for (const [key, v] of input.capture.view.connections) {
      const server = key.slice(key.indexOf('>') + 1);
      requestsByRemote.set(server, (requestsByRemote.get(server) ?? 0) + v.requests);
    }
  }

  const openingSeconds = new Map<string, Set<number>>();
  for (const l of lives) {
    let set = openingSeconds.get(l.server);
    if (!set) {
      set = new Set();
      openingSeconds.set(l.server, set);
    }
    set.add(Math.floor(l.firstSeenMs / 1000));
  }

  const closedByClient = new Map<string, number>();
  for (const l of lives)
    if (l.closedFirst === 'client') closedByClient.set(l.server, (closedByClient.get(l.server) ?? 0) + 1);
  const span = (set: Set<number> | undefined) => (set && set.size > 0 ? Math.max(...set) - Math.min(...set) + 1 : 0);

  let opened: number;
  let accepted: number;
  let failed: number | null = null;
  let resetsSent: number | null = null;
  let resetsReceived: number | null = null;
  if (counters) {
    const [b, a] = [counters.before, counters.after];
    opened = delta(b.snmp.Tcp, a.snmp.Tcp, 'ActiveOpens');
    accepted = delta(b.snmp.Tcp, a.snmp.Tcp, 'PassiveOpens');
    failed = delta(b.snmp.Tcp, a.snmp.Tcp, 'AttemptFails');
    resetsSent = delta(b.snmp.Tcp, a.snmp.Tcp, 'OutRsts');
    // EstabResets counts both ends of a reset; the aborts this side made itself are not "received".
    const aborted = ['TCPAbortOnData', 'TCPAbortOnClose', 'TCPAbortOnLinger', 'TCPAbortOnTimeout'].reduce(
      (n, name) => n + delta(b.netstat.TcpExt, a.netstat.TcpExt, name),
      0,
    );
    resetsReceived = Math.max(0, delta(b.snmp.Tcp, a.snmp.Tcp, 'EstabResets') - aborted);
  } else {
    ({ opened, accepted } = tracker.counts());
  }

  const byRemote: Record<string, number> = {};
  let twTotal = 0;
  for (const r of remotes) {
    if (r.timeWait > 0) byRemote[r.remote] = r.timeWait;
    twTotal += r.timeWait;
  }

  const durationMs = tracker.durationMs;
  const findings = observedFindings({
    durationMs,
    remotes: remotes.map((r) => {
      const requests = requestsByRemote.get(r.remote);
      return {
        remote: r.remote,
        opened: r.opened,
        peakOpen: r.peakOpen,
        openingSeconds: openingSeconds.get(r.remote)?.size ?? 0,
        openingSpanSeconds: span(openingSeconds.get(r.remote)),
        closedByClient: closedByClient.get(r.remote) ?? 0,
        ...(requests !== undefined ? { requests } : {}),
      };
    }),
    timeWait: twTotal,
    failed,
    resetsReceived,
    ephemeralRange: input.sandbox?.portRange ?? null,
  });

  let serve: ObserveReport['serve'] = null;
  if (input.serve) {
    const closedBy: Record<string, number> = {};
    let requests = 0;
    for (const c of input.serve.connections) {
      requests += c.requests;
      const why = c.closedBy ?? 'open';
      closedBy[why] = (closedBy[why] ?? 0) + 1;
    }
    const n = input.serve.connections.length;
    serve = {
      address: input.serve.address,
      connections: n,
      requests,
      requestsPerConnection: n > 0 ? Math.round((requests / n) * 100) / 100 : 0,
      closedBy,
    };
  }

  const limits = (input.mode === 'pid' ? LIMITS_PID : LIMITS_NAMESPACE)
    .replace('INTERVAL', String(input.intervalMs))
    .replace('SAMPLES', String(tracker.sampleCount))
    .replace('PID', String(input.pid ?? ''));

  return {
    schema: OBSERVE_SCHEMA_ID,
    command: input.command,
    mode: input.mode,
    pid: input.pid,
    exitCode: input.exitCode,
    durationMs,
    intervalMs: input.intervalMs,
    samples: tracker.sampleCount,
    connections: { opened, accepted, failed, resetsSent, resetsReceived },
    synSent: counters ? opened : null,
    namespace: input.namespace ?? null,
    timeWait: { total: twTotal, byRemote },
    remotes,
    timeline: tracker.timeline(),
    lives,
    livesDropped: dropped,
    serve,
    capture: input.capture
      ? {
          file: input.capture.file,
          packets: input.capture.view.packets,
          ...input.capture.view.totals,
          connections: input.capture.view.connections.size,
          dropped: input.capture.dropped,
        }
      : null,
    sandbox: input.sandbox,
    findings,
    limits,
  };
}
