import type { AgentShare, FanOutPart, LastTick, TlsReport } from '@kalab/protocol';
import { Aggregate } from './aggregate.js';
import { assembleReport, type LoadReport, type ReportFrame } from './build-report.js';
import { DEFAULTS } from './defaults.js';
import type { StatsEnvelope } from './worker-stats.js';

/**
 * What the whole fan-out was asked to run, for the merged report's target, engine and config,
 * and for https:// whether sessions were offered for resumption (else the agents' reports say).
 */
export type FanOutFrame = Pick<ReportFrame, 'target' | 'engine' | 'config'> & Pick<ReportFrame, 'tls'>;

/** A report that carries its handshake-time histogram (when the report builder adds one, the merge is exact). */
type WithHandshakes = LoadReport & { handshakeHistogram?: string };

/** One agent's report as if it were one more worker's final envelope (counters, histograms, errors). */
function envelopeOfReport(worker: number, r: LoadReport): StatsEnvelope {
  return {
    type: 'stats',
    worker,
    final: true,
    counters: {
      sent: r.requests.sent,
      ok: r.requests.ok,
      non2xx: r.requests.non2xx,
      failed: r.requests.failed,
      opened: r.connections.opened,
      closed: r.connections.opened,
      reusedRequests: r.connections.reusedRequests,
      maxOpen: r.connections.maxOpen,
      handshakes: r.tls?.handshakes ?? 0,
      resumed: r.tls?.resumed ?? 0,
    },
    latency: r.latencyHistogram ?? null,
    connect: r.connectHistogram ?? null,
    errors: r.errors,
    firstErrors: r.firstErrors ?? {},
    ...(r.tls
      ? {
          tls: {
            handshake: (r as WithHandshakes).handshakeHistogram ?? null,
            protocols: r.tls.protocols,
            alpn: r.tls.alpn,
          },
        }
      : {}),
  };
}

/** A lost agent's last tick as an envelope: the totals it last said, every latency its ticks carried. */
function envelopeOfTick(worker: number, t: LastTick): StatsEnvelope {
  const ok = t.totals.ok ?? t.totals.requests;
  const non2xx = t.totals.non2xx ?? 0;
  const failed = t.totals.failed ?? 0;
  const closed = t.totals.connectionsClosed ?? 0;
  return {
    type: 'stats',
    worker,
    final: true,
    counters: {
      sent: ok + non2xx + failed,
      ok,
      non2xx,
      failed,
      opened: t.totals.connectionsOpened,
      closed,
      reusedRequests: t.totals.reusedRequests ?? 0,
      maxOpen: Math.max(0, t.totals.connectionsOpened - closed),
      handshakes: t.totals.tlsHandshakes ?? 0,
      resumed: t.totals.tlsResumed ?? 0,
    },
    latency: t.latencyHistogram ?? null,
    connect: t.connectHistogram ?? null,
    errors: t.errors,
    firstErrors: {},
    // Ticks count handshakes and resumed sessions, not versions or ALPN: those stay the reports'.
    ...(t.totals.tlsHandshakes !== undefined ? { tls: { handshake: null, protocols: {}, alpn: {} } } : {}),
  };
}

/**
 * handshakeMs over the agents' reports. With every report's handshake histogram, their exact
 * merge (done by the Aggregate). Without, from the summaries: the mean weighted by handshakes
 * and the max are exact; p50 and p99 are the largest of the agents' (a bound: a quantile of
 * the merged times is never above the largest of the parts' same quantile, nor below the smallest).
 */
function handshakeMsOf(reports: WithHandshakes[], merged: TlsReport['handshakeMs']): TlsReport['handshakeMs'] {
  const withTls = reports.filter((r) => r.tls && r.tls.handshakes > 0);
  if (withTls.length === 0 || withTls.every((r) => r.handshakeHistogram !== undefined)) return merged;
  let n = 0;
  let sum = 0;
  const out = { mean: 0, p50: 0, p99: 0, max: 0 };
  for (const r of withTls) {
    const t = r.tls!;
    n += t.handshakes;
    sum += t.handshakeMs.mean * t.handshakes;
    out.p50 = Math.max(out.p50, t.handshakeMs.p50);
    out.p99 = Math.max(out.p99, t.handshakeMs.p99);
    out.max = Math.max(out.max, t.handshakeMs.max);
  }
  out.mean = Math.round((sum / n) * 1000) / 1000;
  return out;
}

const ZERO_TICK: LastTick = { elapsedMs: 0, totals: { requests: 0, connectionsOpened: 0 }, errors: {} };

function shareOf(part: FanOutPart, r: LoadReport): AgentShare {
  return {
    name: part.name,
    host: { name: part.host, ...r.host },
    outcome: part.outcome,
    requests: r.requests,
    connections: r.connections,
    errors: r.errors,
    latencyMs: r.latencyMs,
  };
}

/**
 * The exact merge of a fan-out: every agent's report (or, for an agent lost mid-run, its last
 * tick) goes through the lab's one Aggregate and report builder as if it were one more worker,
 * so requests, connections and errors are sums and the HDR histograms are merged, not averaged.
 * `agents` lists each share with its host; `outcome` is partial unless every agent reported.
 */
export function mergeFanOut(parts: FanOutPart[], frame?: FanOutFrame): LoadReport {
  const agg = new Aggregate();
  const reports = parts.flatMap((p) => (p.report ? [p.report as WithHandshakes] : []));
  const agents: AgentShare[] = [];
  const first = parts.find((p) => p.report)?.report as LoadReport | undefined;
  let durationMs = 0;
  let timeWaitPeak = 0;
  let inUsePeak: number | undefined;
  let range: [number, number] | null | undefined;
  let stoppedEarly: string | null = null;
  const findings = new Map<string, LoadReport['findings'][number]>();
  parts.forEach((part, i) => {
    const r = part.report as LoadReport | undefined;
    let own: LoadReport;
    if (r) {
      agg.add(envelopeOfReport(i, r), false);
      own = r;
      durationMs = Math.max(durationMs, r.durationMs);
      stoppedEarly ??= r.stoppedEarly ?? null;
      for (const f of r.findings) if (!findings.has(f.id)) findings.set(f.id, f);
    } else {
      const last = part.last ?? ZERO_TICK;
      const env = envelopeOfTick(i, last);
      agg.add(env, false);
      const one = new Aggregate();
      one.add(env, false);
      own = assembleReport(one, last.elapsedMs, {
        target: frame?.target ?? first?.target ?? '',
        engine: frame?.engine ?? first?.engine ?? DEFAULTS.engine,
        config: {},
        host: { ephemeralRange: null, timeWaitPeak: 0 },
        findings: [],
      });
      durationMs = Math.max(durationMs, last.elapsedMs);
    }
    timeWaitPeak += own.host.timeWaitPeak;
    if (own.host.ephemeralInUsePeak !== undefined) inUsePeak = (inUsePeak ?? 0) + own.host.ephemeralInUsePeak;
    // One range when every reporting host has the same one; null when they differ.
    if (r) {
      const same = range === undefined || (range !== null && own.host.ephemeralRange?.join() === range.join());
      range = same ? own.host.ephemeralRange : null;
    }
    agents.push(shareOf(part, own));
  });
  const missing = parts.filter((p) => p.outcome !== 'complete');
  for (const p of missing) {
    findings.set(`fanout-${p.outcome}-${p.name}`, {
      id: `fanout-${p.outcome}`.slice(0, 64),
      severity: 'error',
      message:
        p.outcome === 'lost'
          ? `agent ${p.name} (${p.host}) was lost mid-run: its share is its last tick's totals`
          : `agent ${p.name} (${p.host}) refused its share: ${p.message ?? 'no reason given'}`,
    });
  }
  const report = assembleReport(agg, durationMs, {
    target: frame?.target ?? first?.target ?? '',
    engine: frame?.engine ?? first?.engine ?? DEFAULTS.engine,
    config: frame?.config ?? first?.config ?? {},
    host: {
      ephemeralRange: range ?? null,
      timeWaitPeak,
      ...(inUsePeak !== undefined ? { ephemeralInUsePeak: inUsePeak } : {}),
    },
    findings: [...findings.values()].slice(0, 100),
    stoppedEarly,
    tls: frame?.tls ?? tlsFrameOf(parts),
  });
  if (report.tls) report.tls.handshakeMs = handshakeMsOf(reports, report.tls.handshakeMs);
  report.agents = agents;
  report.outcome = missing.length === 0 ? 'complete' : 'partial';
  return report;
}

/** https:// fan-outs merged without the caller's frame: resumption as the first agent report with `tls` says it. */
function tlsFrameOf(parts: FanOutPart[]): ReportFrame['tls'] {
  const tls = parts.find((p) => p.report?.tls)?.report?.tls;
  if (tls) return { resume: tls.resumeSessions ?? false, resumeDefault: tls.resumeSource !== '--tls-resume' };
  // Only lost agents: their ticks said they counted handshakes.
  if (parts.some((p) => p.last?.totals.tlsHandshakes !== undefined)) return { resume: false, resumeDefault: true };
  return null;
}
