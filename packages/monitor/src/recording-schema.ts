import { FindingSchema, HostSnapshotSchema, ReportSchema, SnapshotSchema, SourceSnapshotSchema } from '@kalab/protocol';
import { z } from 'zod';

/** Schema id of the first line of every recorded run. */
export const RECORDING_SCHEMA_ID = 'kalab.recording/v1';

const count = z.number().int().nonnegative();
const text = (max: number) => z.string().max(max);

/** What a recording says about its run: the monitor's RunState without its internal keys. */
export const RunInfoSchema = z.object({
  id: text(64).min(1),
  source: z.object({ name: text(128), host: text(128) }),
  target: text(2048).optional(),
  engine: text(16).optional(),
  scenario: text(64).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  startedAt: count,
  endedAt: count.optional(),
  running: z.boolean(),
  /** completed (a report came), refused, lost (its source died before reporting). */
  outcome: z.enum(['completed', 'refused', 'lost']).optional(),
  refused: z.object({ code: text(64), message: text(1000) }).optional(),
});
export type RunInfo = z.infer<typeof RunInfoSchema>;

// Host names come from samples (≤ 128) and from the monitor's own --host-name (unbounded).
const hosts = z.record(z.string(), HostSnapshotSchema);
const merged = SnapshotSchema.shape.merged;

const RecordingHeaderSchema = z.object({
  kind: z.literal('run'),
  schema: z.literal(RECORDING_SCHEMA_ID),
  at: count,
  run: RunInfoSchema,
  monitor: z.object({ host: z.string(), version: text(64) }),
});

const RecordingTickSchema = z.object({
  kind: z.literal('tick'),
  at: count,
  elapsedMs: z.number().nonnegative(),
  sources: z.array(SourceSnapshotSchema),
  merged,
  hosts,
});

const RecordingSummarySchema = z.object({
  kind: z.literal('summary'),
  at: count,
  run: RunInfoSchema,
  report: ReportSchema.nullable(),
  merged,
  hosts,
  findings: z.array(FindingSchema),
});

/** One line of a recording: the run's header, one per tick while it runs, then its summary. */
export const RecordingLineSchema = z.discriminatedUnion('kind', [
  RecordingHeaderSchema,
  RecordingTickSchema,
  RecordingSummarySchema,
]);
export type RecordingLine = z.infer<typeof RecordingLineSchema>;
