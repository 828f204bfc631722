import { z } from 'zod';
import { REPORT_ENGINES } from './limits.js';

/** `kalab.report/v1`: the final report of a load run (docs/contracts.md). */
export const REPORT_SCHEMA_ID = 'kalab.report/v1';

export const SeveritySchema = z.enum(['info', 'warn', 'error']);
export const FindingSchema = z.object({
  id: z.string().max(64),
  severity: SeveritySchema,
  message: z.string().max(1000),
});
export type Finding = z.infer<typeof FindingSchema>;

const count = z.number().int().nonnegative();
const ms = z.number().nonnegative();

export const ErrorCountsSchema = z.record(z.string().max(64), count);
export type ErrorCounts = z.infer<typeof ErrorCountsSchema>;

export const LatencyMsSchema = z.object({ mean: ms, p50: ms, p90: ms, p99: ms, p999: ms, max: ms });
export const ConnectMsSchema = z.object({ mean: ms, p50: ms, p99: ms, max: ms });

const RequestsSchema = z.object({ sent: count, completed: count, ok: count, non2xx: count, failed: count });
const ConnectionsSchema = z.object({
  opened: count,
  reusedRequests: count,
  maxOpen: count,
  requestsPerConnection: z.number().nonnegative(),
});
const HostSchema = z.object({
  ephemeralRange: z.tuple([z.number().int(), z.number().int()]).nullable(),
  timeWaitPeak: count,
  ephemeralInUsePeak: count.optional(),
});

/**
 * https:// runs: the TLS handshakes the client completed (with no handshake failure, one per
 * connection opened), how many resumed a session, their time from the TCP connect, and how
 * they were counted by TLS version and ALPN protocol. `resumeSessions`: whether the client
 * offered sessions to resume, and whether that was the engine library's default or --tls-resume.
 */
export const TlsReportSchema = z.object({
  handshakes: count,
  resumed: count,
  handshakeMs: ConnectMsSchema,
  protocols: z.record(z.string().max(32), count),
  alpn: z.record(z.string().max(32), count),
  resumeSessions: z.boolean().optional(),
  resumeSource: z.enum(['engine default', '--tls-resume']).optional(),
});
export type TlsReport = z.infer<typeof TlsReportSchema>;

/**
 * h2 runs (`--engine h2`): the sessions opened (each one a connection: `connections.opened`),
 * the streams opened on them (a stream sent again after a GOAWAY counts again), the concurrent
 * streams each session was asked to carry (`--streams`), and the smallest
 * SETTINGS_MAX_CONCURRENT_STREAMS the server announced (null: it announced none, no limit).
 */
export const H2ReportSchema = z.object({
  sessions: count,
  streams: count,
  streamsPerSession: count,
  maxConcurrentStreams: count.nullable(),
});
export type H2Report = z.infer<typeof H2ReportSchema>;

/** How one agent's share of a fan-out ended: its report, or lost / refused with the last totals it ticked. */
export const FanOutOutcomeSchema = z.enum(['complete', 'lost', 'refused']);

/** A fan-out run's share of one agent: the same sections as the report, `host` with the agent's host name. */
export const AgentShareSchema = z.object({
  name: z.string().max(128),
  host: HostSchema.extend({ name: z.string().max(128) }),
  /** complete: its report arrived; lost: its connection died mid-run (its last tick's totals); refused. */
  outcome: FanOutOutcomeSchema,
  requests: RequestsSchema,
  connections: ConnectionsSchema,
  errors: ErrorCountsSchema,
  latencyMs: LatencyMsSchema,
});
export type AgentShare = z.infer<typeof AgentShareSchema>;

export const ReportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA_ID),
  target: z.string().max(2048),
  /**
   * The engine that carried the requests: what `--engine` asked for, except `churn` (the lean
   * no-keep-alive engine undici and net hand over to with `--no-keepalive`).
   */
  engine: z.enum(REPORT_ENGINES),
  config: z.record(z.string(), z.unknown()),
  durationMs: ms,
  requests: RequestsSchema,
  connections: ConnectionsSchema,
  errors: ErrorCountsSchema,
  latencyMs: LatencyMsSchema,
  connectMs: ConnectMsSchema,
  throughput: z.object({ rps: z.number().nonnegative() }),
  host: HostSchema,
  /** null for http://; optional so reports written before TLS support still read back. */
  tls: TlsReportSchema.nullable().optional(),
  /** null for the HTTP/1 engines; optional so earlier reports still read back. */
  h2: H2ReportSchema.nullable().optional(),
  findings: z.array(FindingSchema).max(100),
  /** Set when the run stopped before its bound: 'signal' (SIGINT), 'stopped' (a monitor), 'error'. */
  stoppedEarly: z.string().max(64).optional(),
  /** Merged latency histogram (HdrHistogram compressed base64), so monitors can merge hosts exactly. */
  latencyHistogram: z.string().max(1_000_000).optional(),
  /** Merged connect-time histogram, same encoding: a fan-out merges connect times exactly too. */
  connectHistogram: z.string().max(1_000_000).optional(),
  /** Fan-out runs (`--agents`): one share per agent, and whether every agent delivered its report. */
  agents: z.array(AgentShareSchema).max(1024).optional(),
  outcome: z.enum(['complete', 'partial']).optional(),
});
export type Report = z.infer<typeof ReportSchema>;
