import { ProtocolError, TCP_SAMPLE_MAX_SOCKETS, type TcpSample } from '@kalab/core';
import { z } from 'zod';
import {
  ENGINES,
  FAN_OUT_MAX_AGENTS,
  FAN_OUT_RUN_ID_MAX,
  LIMITS,
  MAX_EVENTS_PER_MESSAGE,
  RUN_ID_MAX,
} from './limits.js';
import { ErrorCountsSchema, FanOutOutcomeSchema, FindingSchema, LatencyMsSchema, ReportSchema } from './report.js';

/**
 * The ws protocol between sources (servers, loadgen agents), the monitor hub and viewers.
 * Every message is one JSON envelope `{ v, type, ... }`; the hub validates each one with
 * these schemas and closes the connection (1008) on the first invalid message.
 */
export const PROTOCOL_VERSION = 1;
/** The hub's ws `maxPayload`: a larger frame closes the connection with 1009. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * server and agent (loadgen) sources, viewers; `observer` is `kalab observe` streaming what a
 * program does with its connections (loadgen-shaped ticks, its namespace's tcp-samples).
 */
export const RoleSchema = z.enum(['server', 'agent', 'viewer', 'observer']);
export type Role = z.infer<typeof RoleSchema>;

const v = z.literal(PROTOCOL_VERSION);
const name = z.string().min(1).max(128);
const count = z.number().int().nonnegative();
/** An integer option bounded as LIMITS bounds it. */
const bounded = (limit: { min: number; max: number }) => z.number().int().min(limit.min).max(limit.max);
const runId = z.string().min(1).max(RUN_ID_MAX);
const fanOutRunId = z.string().max(FAN_OUT_RUN_ID_MAX);
const rate = z.number().nonnegative();
const StateCountsSchema = z.record(z.string().max(32), count);

/**
 * What an agent enforces whatever a monitor asks (`--max-connections`, `--max-duration`,
 * `--allow-target`, null: loopback only; `--max-body-bytes`, the largest request body it sends:
 * absent from the hello of an agent that does not say, which a monitor then does not check).
 */
export const AgentCapsSchema = z.object({
  maxConnections: bounded(LIMITS.connections),
  maxDurationMs: z.number().int().min(LIMITS.durationMs.min),
  allowTargets: z.array(z.string().max(300)).max(256).nullable(),
  maxBodyBytes: bounded(LIMITS.bodyBytes).optional(),
});
export type AgentCapsWire = z.infer<typeof AgentCapsSchema>;

/** First message of every peer. The token is compared in constant time by the hub. */
export const HelloSchema = z.object({
  v,
  type: z.literal('hello'),
  role: RoleSchema,
  name,
  host: name,
  version: z.string().max(64),
  token: z.string().max(256).optional(),
  pid: count.optional(),
  /** Agents: CPU cores (os.availableParallelism) and the caps they enforce, so a monitor can split a fan-out. */
  cores: z.number().int().min(1).max(4096).optional(),
  caps: AgentCapsSchema.optional(),
});

/** Hub → peer, answer to a good hello. */
export const WelcomeSchema = z.object({
  v,
  type: z.literal('welcome'),
  id: z.string().max(64),
  heartbeatMs: count,
  serverTime: count,
});

/** Hub → peer before it closes a connection on purpose. */
export const ErrorMessageSchema = z.object({
  v,
  type: z.literal('error'),
  code: z.string().max(64),
  message: z.string().max(1000),
});

/** A tick's totals since the run (or the server) started; a lost agent's last ones too. */
const TickTotalsSchema = z.object({
  requests: count,
  ok: count.optional(),
  non2xx: count.optional(),
  failed: count.optional(),
  connectionsOpened: count,
  connectionsClosed: count.optional(),
  reusedRequests: count.optional(),
  /** https:// runs: TLS handshakes completed, and how many resumed a session. */
  tlsHandshakes: count.optional(),
  tlsResumed: count.optional(),
});

/** Source → hub, about once a second: what happened during the last interval and in total. */
export const TickSchema = z.object({
  v,
  type: z.literal('tick'),
  runId: z.string().max(RUN_ID_MAX).optional(),
  seq: count,
  at: count,
  elapsedMs: rate,
  /** Totals since the run (or the server) started. */
  totals: TickTotalsSchema,
  /** Rates over the last interval, per second. */
  rates: z.object({ rps: rate, newConnPerSec: rate, handshakesPerSec: rate.optional() }),
  openConnections: count,
  errors: ErrorCountsSchema,
  /** Latency of the requests completed during the interval: HdrHistogram compressed base64. */
  latencyHistogram: z.string().max(200_000).optional(),
  connectHistogram: z.string().max(200_000).optional(),
  closedBy: z.record(z.string().max(32), count).optional(),
});

export const ConnectionEventSchema = z.object({
  kind: z.enum(['open', 'request', 'close']),
  id: count,
  at: count,
  remote: z.string().max(64),
  local: z.string().max(64).optional(),
  requests: count.optional(),
  reason: z.enum(['client', 'idleTimeout', 'maxRequests', 'error', 'server']).optional(),
  protocol: z.enum(['http1', 'h2c', 'h2']).optional(),
});
export type ConnectionEvent = z.infer<typeof ConnectionEventSchema>;

/** Server → hub: connection lifecycle events, batched (at most 1000 a message). */
export const ConnectionEventsSchema = z.object({
  v,
  type: z.literal('conn-events'),
  events: z.array(ConnectionEventSchema).max(MAX_EVENTS_PER_MESSAGE),
});

export const SocketRowSchema = z.object({
  local: z.string().max(64),
  remote: z.string().max(64),
  state: z.string().max(32),
});

/** Any role → hub: a sample of the sender's own host TCP table. */
export const TcpSampleSchema = z.object({
  v,
  type: z.literal('tcp-sample'),
  host: name,
  at: count,
  /** Counts by state over the sockets the sender cares about (its port, or all). */
  states: StateCountsSchema,
  ephemeral: z.object({ range: z.tuple([count, count]), inUse: count, timeWait: count }).optional(),
  /** /proc/net/snmp Tcp counters (ActiveOpens, PassiveOpens, AttemptFails, EstabResets, CurrEstab, RetransSegs). */
  counters: z.record(z.string().max(32), count).optional(),
  /** A bounded sample of rows, for the connections table. */
  sockets: z.array(SocketRowSchema).max(TCP_SAMPLE_MAX_SOCKETS).optional(),
});

/** What a monitor may ask an agent to run. The agent checks it against its own caps. */
export const RunOptionsSchema = z.object({
  target: z.string().max(2048),
  engine: z.enum(ENGINES).optional(),
  connections: bounded(LIMITS.connections).optional(),
  // requests, durationMs and maxIdle: only the lower bound on the wire; above it the agent
  // answers run-refused (resolveOptions checks LIMITS) rather than dropping the message.
  requests: z.number().int().min(LIMITS.requests.min).optional(),
  durationMs: z.number().int().min(LIMITS.durationMs.min).optional(),
  rate: z.number().positive().optional(),
  workers: bounded(LIMITS.workers).optional(),
  keepAlive: z.boolean().optional(),
  maxIdle: z.number().int().min(LIMITS.maxIdle.min).optional(),
  consumeBody: z.boolean().optional(),
  pipelining: bounded(LIMITS.pipelining).optional(),
  localAddresses: z.array(z.string().max(64)).max(LIMITS.localAddresses.max).optional(),
  /** Per-request timeout (`kalab loadgen --timeout`); the agent's default applies when absent. */
  timeoutMs: bounded(LIMITS.timeoutMs).optional(),
  scenario: z.string().max(64).optional(),
  /** The request (`-m`, `-H`, `-b`/`--body-file`); the loadgen checks tokens and CR/LF, an agent caps the body (--max-body-bytes). */
  method: z.string().min(1).max(32).optional(),
  headers: z
    .array(z.tuple([z.string().min(1).max(256), z.string().max(8192)]))
    .max(LIMITS.headers.max)
    .optional(),
  /** utf8 text, or base64 when bodyEncoding says so (8 MiB of bytes at most, LIMITS.bodyBytes). */
  body: z.string().max(11_200_000).optional(),
  bodyEncoding: z.enum(['utf8', 'base64']).optional(),
  /** https:// (`-k`, `--ca` as PEM text, `--servername`, `--tls-resume`). */
  insecure: z.boolean().optional(),
  ca: z.string().max(LIMITS.caBytes.max).optional(),
  servername: z.string().max(253).optional(),
  tlsResume: z.boolean().optional(),
});
export type RunOptions = z.infer<typeof RunOptionsSchema>;

/** Monitor → agent: start a run. */
export const RunStartSchema = z.object({
  v,
  type: z.literal('run-start'),
  runId,
  options: RunOptionsSchema,
  /** Fan-out: get the workers ready, say run-ready, and go only on run-go (at the agreed instant). */
  hold: z.boolean().optional(),
});
/** Agent → hub: a held run's workers are ready. */
export const RunReadySchema = z.object({ v, type: z.literal('run-ready'), runId });
/** Hub → agent: start a held run at `startAt`, the agreed instant on the agent's own clock (epoch ms). */
export const RunGoSchema = z.object({ v, type: z.literal('run-go'), runId, startAt: count });
/** Monitor → agent: stop a run early (the report still follows). */
export const RunStopSchema = z.object({ v, type: z.literal('run-stop'), runId });
/** Agent → hub: a run began (also sent by a standalone `kalab loadgen URL --monitor`). */
export const RunStartedSchema = z.object({
  v,
  type: z.literal('run-started'),
  runId,
  target: z.string().max(2048),
  engine: z.string().max(16),
  config: z.record(z.string(), z.unknown()),
  scenario: z.string().max(64).optional(),
});
/** Agent → hub: a run ended; the same report the agent prints. */
export const RunReportSchema = z.object({
  v,
  type: z.literal('run-report'),
  runId,
  report: ReportSchema,
});
/** Agent → hub: a run was refused (caps, bad target). */
export const RunRefusedSchema = z.object({
  v,
  type: z.literal('run-refused'),
  runId,
  code: z.string().max(64),
  message: z.string().max(1000),
});

/** Hub → agent: what time is it on your clock? (the monitor measures each agent's offset before a fan-out). */
export const ClockPingSchema = z.object({ v, type: z.literal('clock-ping'), id: z.string().max(64), t0: count });
/** Agent → hub: the ping's `t0` back, with the agent's Date.now() when it answered. */
export const ClockPongSchema = z.object({
  v,
  type: z.literal('clock-pong'),
  id: z.string().max(64),
  t0: count,
  at: count,
});

/** Viewer → hub (token needed): one run split over `agents` idle agents (a count, or every idle one). */
export const FanOutStartSchema = z.object({
  v,
  type: z.literal('fanout-start'),
  runId: fanOutRunId.min(1),
  agents: z.union([z.number().int().min(1).max(FAN_OUT_MAX_AGENTS), z.literal('all')]),
  options: RunOptionsSchema,
});
/** Viewer → hub: which agents are connected, their caps and state. Answered with `agents`. */
export const AgentsListSchema = z.object({ v, type: z.literal('agents-list') });

export const AgentStateSchema = z.enum(['idle', 'running', 'lost']);
export const AgentInfoSchema = z.object({
  name,
  host: name,
  version: z.string().max(64),
  cores: z.number().int().nullable(),
  caps: AgentCapsSchema.nullable(),
  state: AgentStateSchema,
  runId: z.string().max(RUN_ID_MAX).optional(),
});
export type AgentInfo = z.infer<typeof AgentInfoSchema>;
/** Hub → viewer: the answer to `agents-list`. */
export const AgentsSchema = z.object({ v, type: z.literal('agents'), agents: z.array(AgentInfoSchema).max(1024) });

const FanOutTotalsSchema = z.object({ requests: count, connectionsOpened: count, errors: count });
/** Hub → viewer: the fan-out began; each agent's slice, clock offset and round trip, and the agreed start. */
export const FanOutStartedSchema = z.object({
  v,
  type: z.literal('fanout-started'),
  runId: fanOutRunId,
  /** The agreed instant on the monitor's clock. */
  startAt: count,
  agents: z
    .array(
      z.object({
        name,
        host: name,
        runId: z.string().max(RUN_ID_MAX),
        options: RunOptionsSchema,
        offsetMs: z.number(),
        rttMs: z.number().nonnegative(),
      }),
    )
    .max(FAN_OUT_MAX_AGENTS),
});
/** Hub → viewer, about once a second: the merged tick (totals summed over agents) and one row per agent. */
export const FanOutProgressSchema = z.object({
  v,
  type: z.literal('fanout-progress'),
  runId: fanOutRunId,
  tick: TickSchema,
  agents: z
    .array(z.object({ name, state: z.enum(['starting', 'running', 'done', 'lost']), totals: FanOutTotalsSchema }))
    .max(FAN_OUT_MAX_AGENTS),
});

/** What an agent's last tick said, for an agent that sent no report. */
export const LastTickSchema = z.object({
  elapsedMs: rate,
  totals: TickTotalsSchema,
  errors: ErrorCountsSchema,
  /** Every latency its ticks carried, merged (HdrHistogram compressed base64). */
  latencyHistogram: z.string().max(1_000_000).optional(),
  connectHistogram: z.string().max(1_000_000).optional(),
});
export type LastTick = z.infer<typeof LastTickSchema>;
export const FanOutPartSchema = z.object({
  name,
  host: name,
  runId: z.string().max(RUN_ID_MAX),
  outcome: FanOutOutcomeSchema,
  report: ReportSchema.optional(),
  last: LastTickSchema.optional(),
  message: z.string().max(1000).optional(),
});
export type FanOutPart = z.infer<typeof FanOutPartSchema>;
/** Hub → viewer: every agent finished, was lost or refused. The viewer merges the parts (loadgen's mergeFanOut). */
export const FanOutReportSchema = z.object({
  v,
  type: z.literal('fanout-report'),
  runId: fanOutRunId,
  parts: z.array(FanOutPartSchema).max(FAN_OUT_MAX_AGENTS),
});
export type FanOutStart = z.infer<typeof FanOutStartSchema>;
export type FanOutStarted = z.infer<typeof FanOutStartedSchema>;
export type FanOutProgress = z.infer<typeof FanOutProgressSchema>;
export type FanOutReport = z.infer<typeof FanOutReportSchema>;
export type ClockPing = z.infer<typeof ClockPingSchema>;
export type RunReady = z.infer<typeof RunReadySchema>;
export type RunGo = z.infer<typeof RunGoSchema>;
export type ClockPong = z.infer<typeof ClockPongSchema>;

/** Viewer → hub: ask for a run on a named agent (viewers can only read; the hub rejects this from viewers without the token). */
export const SubscribeSchema = z.object({
  v,
  type: z.literal('subscribe'),
  intervalMs: z.number().int().min(100).max(60_000).optional(),
});

export const SourceSnapshotSchema = z.object({
  id: z.string().max(64),
  name,
  role: RoleSchema,
  host: name,
  connected: z.boolean(),
  /** Marked lost when no heartbeat arrived for two intervals; its data is kept. */
  lost: z.boolean(),
  lastSeen: count,
  runId: z.string().max(RUN_ID_MAX).optional(),
  totals: z.object({ requests: count, connectionsOpened: count, errors: count }),
  rates: z.object({ rps: rate, newConnPerSec: rate }),
  openConnections: count,
  latencyMs: LatencyMsSchema.optional(),
  errors: ErrorCountsSchema,
  /** https:// runs: the latest tick's handshakes/s, and the run's handshakes and resumed sessions so far. */
  tls: z.object({ handshakesPerSec: rate, handshakes: count, resumed: count }).optional(),
});
export type SourceSnapshot = z.infer<typeof SourceSnapshotSchema>;

export const HostSnapshotSchema = z.object({
  states: StateCountsSchema,
  ephemeral: z.object({ range: z.tuple([count, count]), inUse: count, timeWait: count }).optional(),
  /** Seconds until the ephemeral range is full at the current growth rate; null when not growing. */
  exhaustionSeconds: z.number().nonnegative().nullable(),
  at: count,
});
export type HostSnapshot = z.infer<typeof HostSnapshotSchema>;

/** Hub → viewer, a few times a second: the merged picture. Views draw only from this. */
export const SnapshotSchema = z.object({
  v,
  type: z.literal('snapshot'),
  at: count,
  startedAt: count,
  sources: z.array(SourceSnapshotSchema),
  hosts: z.record(name, HostSnapshotSchema),
  merged: z.object({
    requests: count,
    connectionsOpened: count,
    rps: rate,
    newConnPerSec: rate,
    requestsPerConnection: rate,
    latencyMs: LatencyMsSchema,
    connectMs: z.object({ mean: rate, p50: rate, p99: rate, max: rate }),
    errors: ErrorCountsSchema,
  }),
  /** Bounded per-second history, oldest first. */
  history: z.object({
    at: z.array(count),
    rps: z.array(rate),
    newConnPerSec: z.array(rate),
    /** Per host, per state: counts aligned with `at`. */
    states: z.record(name, z.record(z.string().max(32), z.array(count))),
  }),
  connections: z.array(
    z.object({
      state: z.string().max(32),
      local: z.string().max(64),
      remote: z.string().max(64),
      ageMs: count.nullable(),
      requests: count.nullable(),
    }),
  ),
  findings: z.array(FindingSchema),
  run: z
    .object({
      id: z.string().max(64),
      scenario: z.string().max(64).optional(),
      target: z.string().max(2048).optional(),
      startedAt: count,
      running: z.boolean(),
    })
    .nullable(),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

/** Every message a source may send to the hub after its hello. */
export const SourceMessageSchema = z.discriminatedUnion('type', [
  TickSchema,
  ConnectionEventsSchema,
  TcpSampleSchema,
  RunStartedSchema,
  RunReportSchema,
  RunRefusedSchema,
  ClockPongSchema,
  RunReadySchema,
]);
/** Every message the hub may send to a peer. */
export const HubMessageSchema = z.discriminatedUnion('type', [
  WelcomeSchema,
  ErrorMessageSchema,
  RunStartSchema,
  RunStopSchema,
  SnapshotSchema,
  ClockPingSchema,
  RunGoSchema,
  AgentsSchema,
  FanOutStartedSchema,
  FanOutProgressSchema,
  FanOutReportSchema,
]);
/** Every message a viewer may send after its hello. */
export const ViewerMessageSchema = z.discriminatedUnion('type', [
  SubscribeSchema,
  RunStartSchema,
  RunStopSchema,
  FanOutStartSchema,
  AgentsListSchema,
]);

export type Hello = z.infer<typeof HelloSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Tick = z.infer<typeof TickSchema>;
export type ConnectionEvents = z.infer<typeof ConnectionEventsSchema>;
// core's TcpSample (what sampleTcp builds) and this schema describe one shape: either way round
// a difference fails to build.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tcpSampleAgrees: Same<TcpSample, z.infer<typeof TcpSampleSchema>> = true;
void tcpSampleAgrees;
export type RunStart = z.infer<typeof RunStartSchema>;
export type RunStop = z.infer<typeof RunStopSchema>;
export type RunStarted = z.infer<typeof RunStartedSchema>;
export type RunReport = z.infer<typeof RunReportSchema>;
export type RunRefused = z.infer<typeof RunRefusedSchema>;
export type SourceMessage = z.infer<typeof SourceMessageSchema>;
export type HubMessage = z.infer<typeof HubMessageSchema>;
export type ViewerMessage = z.infer<typeof ViewerMessageSchema>;

/**
 * Parses one ws frame's text against a schema. Throws ProtocolError (close 1008) when the
 * text is not JSON or does not match; callers close that one connection and go on.
 */
export function decodeMessage<S extends z.ZodType>(schema: S, data: string | Buffer): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    throw new ProtocolError('message is not valid JSON');
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first?.path.length ? first.path.join('.') : 'message';
    throw new ProtocolError(`invalid message: ${where}: ${first?.message ?? 'does not match the schema'}`);
  }
  return r.data;
}

/** Builds an envelope with the protocol version stamped in. */
export function envelope<T extends { type: string }>(msg: T): T & { v: typeof PROTOCOL_VERSION } {
  return { v: PROTOCOL_VERSION, ...msg };
}
