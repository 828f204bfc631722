import { FindingSchema } from '@kalab/protocol';
import { z } from 'zod';

/** `kalab.observe/v1`: what a program did with its connections (docs/observe.md). */
export const OBSERVE_SCHEMA_ID = 'kalab.observe/v1';

const count = z.number().int().nonnegative();
const nullableCount = count.nullable();

/** SYN, FIN and RST segments and HTTP/1.x requests of one connection, from a capture. */
const PacketViewSchema = z.object({
  syn: count,
  synAck: count,
  fin: count,
  rst: count,
  requests: count,
});
export type PacketView = z.infer<typeof PacketViewSchema>;

/** Which side closed first: the one whose socket went to FIN_WAIT/TIME_WAIT (both: a simultaneous close). */
const CloserSchema = z.enum(['client', 'server', 'both']).nullable();

/** One connection's life as the samples saw it. Times are ms since the observation started. */
export const ConnectionLifeSchema = z.object({
  client: z.string(),
  server: z.string(),
  firstSeenMs: z.number().nonnegative(),
  lastSeenMs: z.number().nonnegative(),
  /** Sockets of this connection seen here: its client side, its server side, or both (both ends local). */
  seen: z.enum(['client', 'server', 'both']),
  closedFirst: CloserSchema,
  /** The side holding the TIME_WAIT, when one was seen. */
  timeWait: z.enum(['client', 'server']).nullable(),
  /** The client side's last state (the server side's when only it was seen). */
  lastState: z.string(),
  /** From the lab server's ledger (`--serve`). */
  requests: count.optional(),
  closedBy: z.string().nullable().optional(),
  /** From the capture (`--capture`). */
  packets: PacketViewSchema.optional(),
});
export type ConnectionLife = z.infer<typeof ConnectionLifeSchema>;

const RemoteSummarySchema = z.object({
  remote: z.string(),
  opened: count,
  peakOpen: count,
  timeWait: count,
  /**
   * Connections that left the table between two samples with no close seen: a reset, or a close
   * the remote started and this side finished within one interval (no TIME_WAIT here). The
   * kernel's exact reset counts are `connections.resetsSent/resetsReceived`.
   */
  vanished: count,
});
export type RemoteSummary = z.infer<typeof RemoteSummarySchema>;

const TimelineEntrySchema = z.object({
  second: count,
  newConnections: count,
  open: count,
  timeWait: count,
});
export type TimelineEntry = z.infer<typeof TimelineEntrySchema>;

export const ObserveReportSchema = z.object({
  schema: z.literal(OBSERVE_SCHEMA_ID),
  command: z.string(),
  mode: z.enum(['namespace', 'pid']),
  pid: z.number().int().positive().nullable(),
  /** The program's exit code (128 + signal when a signal ended it); null when attached with --pid. */
  exitCode: z.number().int().nullable(),
  durationMs: z.number().nonnegative(),
  intervalMs: z.number().positive(),
  samples: count,
  /**
   * The namespace kernel's counters (/proc/net/snmp): opened = ActiveOpens (SYNs sent by
   * connect()), accepted = PassiveOpens, failed = AttemptFails, resetsSent = OutRsts,
   * resetsReceived = connections reset while established less those this side aborted.
   * With --pid: connections seen opened and accepted, the rest null (the counters are shared).
   */
  connections: z.object({
    opened: count,
    accepted: count,
    failed: nullableCount,
    resetsSent: nullableCount,
    resetsReceived: nullableCount,
  }),
  /** SYNs sent (ActiveOpens); null with --pid. */
  synSent: nullableCount,
  /**
   * With --pid: the SYNs sent and connections accepted in the whole network namespace of the
   * process during the observation (every process in it, not only this one); null otherwise.
   */
  namespace: z.object({ activeOpens: count, passiveOpens: count }).nullable(),
  timeWait: z.object({ total: count, byRemote: z.record(z.string(), count) }),
  remotes: z.array(RemoteSummarySchema),
  timeline: z.array(TimelineEntrySchema),
  lives: z.array(ConnectionLifeSchema),
  /** Lives not listed (over the report's cap); counted everywhere else. */
  livesDropped: count,
  serve: z
    .object({
      address: z.string(),
      connections: count,
      requests: count,
      requestsPerConnection: z.number().nonnegative(),
      closedBy: z.record(z.string(), count),
    })
    .nullable(),
  capture: z
    .object({
      file: z.string(),
      packets: count,
      syn: count,
      synAck: count,
      fin: count,
      rst: count,
      requests: count,
      connections: count,
      /** Packets the kernel dropped before tcpdump read them (its own count): the packet view is short by these. */
      dropped: count,
    })
    .nullable(),
  sandbox: z
    .object({
      portRange: z.tuple([z.number(), z.number()]).nullable(),
      tcpTwReuse: z.number().int().nullable(),
    })
    .nullable(),
  findings: z.array(FindingSchema),
  /** What sampling cannot see, in words. */
  limits: z.string(),
});
export type ObserveReport = z.infer<typeof ObserveReportSchema>;
