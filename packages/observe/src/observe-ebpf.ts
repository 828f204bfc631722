import { existsSync, readFileSync } from 'node:fs';
import { type Finding, observedFindings, STATE_BY_CODE } from '@kalab/core';
import { buildObserveReport } from './build-report.js';
import { ConnectionTracker } from './connection-tracker.js';
import { redactArgv } from './redact-argv.js';
import type { ObserveReport } from './report.js';
import { type EbpfTarget, type EbpfTrace, type TracedSocket, traceConnections } from './tracer-ebpf.js';

/** Lives listed in the report; the rest are counted (`livesDropped`). */
const LIVES_LISTED = 10_000;

/** The shortest idle timeout among common clients' pools: undici's keepAliveTimeout (4 s). Go's is 90 s. */
const CLIENT_POOL_IDLE_MS = 4000;

const other = (role: 'client' | 'server') => (role === 'client' ? 'server' : 'client');

/** Who sent the first FIN of a socket's connection, as client/server. */
export function closer(s: TracedSocket): 'client' | 'server' | 'both' | null {
  if (s.firstFin === 'local') return s.role;
  if (s.firstFin === 'remote') return other(s.role);
  return s.firstFin;
}

function closeSides(sockets: readonly TracedSocket[]) {
  const out = { client: 0, server: 0, both: 0, reset: 0, open: 0 };
  for (const s of sockets) {
    const c = closer(s);
    if (c) out[c]++;
    else if (s.resetSent || s.resetReceived) out.reset++;
    else if (s.closedMs === null) out.open++;
  }
  return out;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The server endpoint of a socket's connection (what `remotes` groups by). */
const serverEnd = (s: TracedSocket) => (s.role === 'client' ? s.remote : s.local);

export interface TracedReportInput {
  command: string;
  pid: number | null;
  cgroup: string | null;
  trace: EbpfTrace;
  /** --serve's requests per connection, when a ledger counted them. */
  requestsPerConnection?: number | null;
}

/** `kalab.observe/v1` from a trace: exact counts, lives, and the server's side. A pure function of its input. */
export function buildTracedReport(input: TracedReportInput): ObserveReport {
  const { trace } = input;
  const socks = trace.sockets.filter((s) => s.local !== '' || s.closedMs === null);
  const tracker = new ConnectionTracker(null);
  const base = buildObserveReport({
    command: input.command,
    mode: 'pid',
    pid: input.pid,
    exitCode: null,
    intervalMs: 1,
    tracker,
    counters: null,
    sandbox: null,
    serve: null,
    capture: null,
    namespace: null,
  });
  const clients = socks.filter((s) => s.role === 'client');
  const servers = socks.filter((s) => s.role === 'server');
  const end = trace.durationMs;

  // Per server endpoint: opened, peak open (a sweep over [born, closed]), TIME_WAITs held here.
  const groups = new Map<string, TracedSocket[]>();
  for (const s of socks) {
    const key = serverEnd(s) || '?';
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  const remotes = [...groups].map(([remote, list]) => {
    const edges: Array<[number, number]> = [];
    for (const s of list) edges.push([s.bornMs, 1], [s.closedMs ?? end, -1]);
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0;
    let peakOpen = 0;
    for (const [, d] of edges) {
      open += d;
      peakOpen = Math.max(peakOpen, open);
    }
    return { remote, opened: list.length, peakOpen, timeWait: list.filter((s) => s.timeWait).length, vanished: 0 };
  });
  remotes.sort((a, b) => b.opened - a.opened);

  const seconds = Math.max(1, Math.ceil(end / 1000));
  const timeline = [];
  for (let sec = 0; sec < seconds && sec < 3600; sec++) {
    const t = (sec + 1) * 1000;
    timeline.push({
      second: sec,
      newConnections: socks.filter((s) => s.bornMs >= sec * 1000 && s.bornMs < t).length,
      open: socks.filter((s) => s.bornMs < t && (s.closedMs === null || s.closedMs >= t)).length,
      // A TIME_WAIT lasts 60 s on Linux.
      timeWait: socks.filter((s) => s.timeWait && s.closedMs !== null && s.closedMs < t && s.closedMs >= t - 60_000)
        .length,
    });
  }

  const lives = socks.slice(0, LIVES_LISTED).map((s) => ({
    client: s.role === 'client' ? s.local : s.remote,
    server: serverEnd(s),
    firstSeenMs: s.bornMs,
    lastSeenMs: s.closedMs ?? end,
    seen: s.role,
    closedFirst: closer(s),
    timeWait: s.timeWait ? s.role : null,
    lastState: STATE_BY_CODE[s.lastState] ?? String(s.lastState),
  }));

  const twByRemote: Record<string, number> = {};
  let twTotal = 0;
  for (const r of remotes) {
    if (r.timeWait > 0) twByRemote[r.remote] = r.timeWait;
    twTotal += r.timeWait;
  }
  const failed = clients.filter((s) => s.establishedMs === null && s.closedMs !== null).length;
  const resetsSent = socks.filter((s) => s.resetSent).length;
  const resetsReceived = socks.filter((s) => s.resetReceived).length;
  const closedByClient = new Map<string, number>();
  for (const s of socks)
    if (closer(s) === 'client') closedByClient.set(serverEnd(s), (closedByClient.get(serverEnd(s)) ?? 0) + 1);
  const findings: Finding[] = observedFindings({
    durationMs: end,
    remotes: remotes.map((r) => ({
      remote: r.remote,
      opened: r.opened,
      peakOpen: r.peakOpen,
      openingSeconds: new Set(groups.get(r.remote)!.map((s) => Math.floor(s.bornMs / 1000))).size,
      closedByClient: closedByClient.get(r.remote) ?? 0,
    })),
    timeWait: twTotal,
    failed,
    resetsReceived,
    ephemeralRange: null,
  });

  let server: ObserveReport['server'] = null;
  if (servers.length > 0) {
    const closedFirst = closeSides(servers);
    const life = (s: TracedSocket) => Math.round(((s.closedMs ?? end) - s.bornMs) * 10) / 10;
    // Born to the server's FIN: how long the server kept it (its idle timeout, for an idle connection).
    const serverClosed = servers
      .filter((s) => closer(s) === 'server' && s.firstFinMs !== null)
      .map((s) => Math.round((s.firstFinMs! - s.bornMs) * 10) / 10);
    server = {
      accepted: servers.length,
      closedFirst,
      requestsPerConnection: input.requestsPerConnection ?? null,
      serverCloseMedianMs: median(serverClosed),
      lifeMedianMs: median(servers.filter((s) => s.closedMs !== null).map(life)),
    };
    const idle = server.serverCloseMedianMs;
    // A server closing first after a while (an idle timeout, not Connection: close right after the response).
    if (idle !== null && closedFirst.server >= 1 && idle >= 100 && idle < CLIENT_POOL_IDLE_MS)
      findings.push({
        id: 'observe-server-idle-race',
        severity: 'warn',
        message: `The server closed ${closedFirst.server} of ${servers.length} accepted connections first, after a median of ${Math.round(idle)} ms: shorter than a typical client pool's idle timeout (undici 4 s, Go 90 s), so a client can send a request on a connection the server is closing and get a reset (the race of scenario keepalive-race). Keep the server's idle timeout above the clients'.`,
      });
  }

  const lost =
    trace.lost > 0
      ? ` bpftrace lost ${trace.lost} events (its buffer was full): counts are short by up to that many.`
      : '';
  return {
    ...base,
    durationMs: end,
    samples: 0,
    connections: { opened: clients.length, accepted: servers.length, failed, resetsSent, resetsReceived },
    synSent: clients.length,
    timeWait: { total: twTotal, byRemote: twByRemote },
    remotes,
    timeline,
    lives,
    livesDropped: Math.max(0, socks.length - LIVES_LISTED),
    findings,
    limits: `Traced with eBPF (sock:inet_sock_set_state, tcp:tcp_send_reset, tcp:tcp_receive_reset): every connection ${input.cgroup ? `of a process in the cgroup` : 'the process and its children'} opened or accepted while attached is counted, however short. TIME_WAIT means this side closed first and finished the close (FIN_WAIT2 or CLOSING -> CLOSE). Sockets open before the tracer attached are not listed.${lost}`,
    tracer: 'ebpf',
    cgroup: input.cgroup,
    closedFirst: closeSides(socks),
    server,
    lostEvents: trace.lost,
  };
}

export interface ObserveTracedOptions {
  target: EbpfTarget;
  durationMs?: number | null;
  signal?: AbortSignal;
  onAttached?: () => void;
  bpftrace?: string;
}

/** `--pid` or `--cgroup` with the eBPF tracer: runs bpftrace until the end and reports. */
export async function observeTraced(opts: ObserveTracedOptions): Promise<ObserveReport> {
  const { target } = opts;
  let command = '';
  if ('pid' in target) {
    const path = `/proc/${target.pid}/cmdline`;
    if (existsSync(path)) command = redactArgv(readFileSync(path, 'latin1').split('\0').filter(Boolean)).join(' ');
  } else command = `cgroup ${target.cgroup}`;
  const trace = await traceConnections(opts);
  return buildTracedReport({
    command,
    pid: 'pid' in target ? target.pid : null,
    cgroup: 'cgroup' in target ? target.cgroup : null,
    trace,
  });
}
