import { findingsFor, REPORT_SCHEMA_ID, type Report } from '@kalab/protocol';
import type { Aggregate } from './aggregate.js';
import { engineThatRuns } from './defaults.js';
import type { HostPeak } from './host-sampler.js';
import type { ResolvedOptions } from './options.js';

/** The report plus fields beyond kalab.report/v1 (extra keys the schema lets through). */
export type LoadReport = Report & {
  /** When each error code first occurred (ms after the run began) and the connections opened by then. */
  firstErrors?: Record<string, { atMs: number; afterConnections: number }>;
};

/** What the run was asked to do, as it lands in the report's `config`. */
export function configOf(o: ResolvedOptions): Record<string, unknown> {
  return {
    connections: o.connections,
    ...(o.streams !== null ? { streams: o.streams } : {}),
    requests: o.requests,
    durationMs: o.durationMs,
    rate: o.rate,
    workers: o.workers,
    keepAlive: o.keepAlive,
    maxIdle: o.maxIdle,
    consumeBody: o.consumeBody,
    pipelining: o.pipelining,
    localAddresses: o.localAddresses,
    timeoutMs: o.timeoutMs,
    ...(o.keepAlive ? {} : { closeBy: o.closeBy }),
    ...(o.scenario ? { scenario: o.scenario } : {}),
    method: o.method,
    ...(o.headers.length > 0 ? { headers: o.headers.map(([n]) => n) } : {}),
    ...(o.body !== null ? { bodyBytes: o.body.byteLength } : {}),
    ...(o.tls
      ? {
          tls: {
            insecure: o.tls.insecure,
            ca: o.tls.ca !== null,
            servername: o.tls.servername,
            resume: o.tls.resume,
            resumeSource: o.tls.resumeDefault ? 'engine default' : '--tls-resume',
          },
        }
      : {}),
    // Which code path carried the requests (docs/loadgen.md, "Engines").
    transport: transportOf(o),
  };
}

export function transportOf(o: ResolvedOptions): string {
  if (o.engine === 'http') return 'node:http Agent';
  if (o.engine === 'h2c' || o.engine === 'h2')
    return o.tls ? 'lean HTTP/2 frames over TLS (ALPN h2)' : 'lean HTTP/2 frames (h2c, prior knowledge)';
  if (!o.keepAlive) return 'net (lean churn engine)';
  if (o.engine === 'net') return 'net (lean keep-alive engine)';
  if (!o.consumeBody) return 'undici Pool, request() bodies never read';
  return o.rate !== null ? 'undici Pool' : 'undici Client per connection';
}

/** What a report says about its run beyond the aggregated counters and histograms. */
export interface ReportFrame {
  target: string;
  engine: Report['engine'];
  config: Record<string, unknown>;
  host: Report['host'];
  findings: Report['findings'];
  stoppedEarly?: string | null;
  /** https:// runs: whether sessions were offered for resumption, and who decided (null for http://). */
  tls?: { resume: boolean; resumeDefault: boolean } | null;
  /** h2 runs: the streams each session was asked to carry (null for HTTP/1 engines). */
  h2?: { streamsPerSession: number } | null;
}

/**
 * A kalab.report/v1 report from aggregated worker stats: the one report builder of the lab
 * (load runs here, scenario phases in @kalab/scenarios).
 */
export function assembleReport(agg: Aggregate, durationMs: number, frame: ReportFrame): LoadReport {
  const t = agg.totals();
  const completed = t.ok + t.non2xx;
  const lat = agg.latency.summaryMs();
  const con = agg.connect.summaryMs();
  const report: LoadReport = {
    schema: REPORT_SCHEMA_ID,
    target: frame.target,
    engine: frame.engine,
    config: frame.config,
    durationMs: Math.round(durationMs),
    requests: { sent: t.sent, completed, ok: t.ok, non2xx: t.non2xx, failed: t.failed },
    connections: {
      opened: t.opened,
      reusedRequests: t.reusedRequests,
      maxOpen: t.maxOpen,
      requestsPerConnection: t.opened > 0 ? Math.round((completed / t.opened) * 100) / 100 : 0,
    },
    errors: agg.errors(),
    latencyMs: { mean: lat.mean, p50: lat.p50, p90: lat.p90, p99: lat.p99, p999: lat.p999, max: lat.max },
    connectMs: { mean: con.mean, p50: con.p50, p99: con.p99, max: con.max },
    throughput: { rps: durationMs > 0 ? Math.round((completed / durationMs) * 1000 * 10) / 10 : 0 },
    host: frame.host,
    tls: null,
    h2: frame.h2
      ? {
          sessions: t.opened,
          streams: t.streams ?? 0,
          streamsPerSession: frame.h2.streamsPerSession,
          maxConcurrentStreams: t.peerMaxStreams || null,
        }
      : null,
    findings: frame.findings,
  };
  if (frame.tls) {
    const hs = agg.handshake.summaryMs();
    report.tls = {
      handshakes: t.handshakes,
      resumed: t.resumed,
      handshakeMs: { mean: hs.mean, p50: hs.p50, p99: hs.p99, max: hs.max },
      ...agg.tlsCounts(),
      resumeSessions: frame.tls.resume,
      resumeSource: frame.tls.resumeDefault ? 'engine default' : '--tls-resume',
    };
  }
  if (frame.stoppedEarly) report.stoppedEarly = frame.stoppedEarly;
  if (agg.latency.count > 0) report.latencyHistogram = agg.latency.encode();
  if (agg.connect.count > 0) report.connectHistogram = agg.connect.encode();
  const first = agg.firstErrors();
  if (Object.keys(first).length > 0) report.firstErrors = first;
  return report;
}

export function buildReport(
  o: ResolvedOptions,
  agg: Aggregate,
  host: HostPeak,
  durationMs: number,
  stoppedEarly: string | null,
  timeWaitPerSec?: number,
): LoadReport {
  const t = agg.totals();
  const completed = t.ok + t.non2xx;
  return assembleReport(agg, durationMs, {
    target: o.target,
    engine: engineThatRuns(o),
    config: configOf(o),
    host: {
      ephemeralRange: host.ephemeralRange,
      timeWaitPeak: host.timeWaitPeak,
      ephemeralInUsePeak: host.ephemeralInUsePeak,
    },
    findings: findingsFor({
      requests: completed,
      connectionsOpened: t.opened,
      reusedRequests: t.reusedRequests,
      durationMs,
      errors: agg.errors(),
      keepAlive: o.keepAlive,
      consumeBody: o.consumeBody,
      connections: o.connections,
      ...(o.engine === 'http' ? { maxIdle: o.maxIdle } : {}),
      timeWait: host.timeWaitPeak,
      ...(timeWaitPerSec !== undefined ? { timeWaitPerSec } : {}),
      ephemeralRange: host.ephemeralRange,
      ephemeralInUse: host.ephemeralInUsePeak,
    }).slice(0, 100),
    stoppedEarly,
    tls: o.tls,
    h2: engineThatRuns(o) === 'h2' ? { streamsPerSession: o.streams ?? 1 } : null,
  });
}
