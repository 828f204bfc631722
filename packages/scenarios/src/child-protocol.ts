import { SourceMessageSchema } from '@kalab/core';
import { z } from 'zod';
import type { RunObserved, SandboxInfo } from './types.js';

const SandboxInfoSchema: z.ZodType<SandboxInfo> = z.object({
  mode: z.enum(['namespace', 'host']),
  portRange: z.tuple([z.number().int(), z.number().int()]).nullable(),
  tcpTwReuse: z.number().int().nullable(),
  warning: z.string().optional(),
});

// The judge reads the counts by name; here the shape is checked to be an object of them.
const RunObservedSchema = z.custom<RunObserved>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'observed must be an object',
);

/** One line of the scenario child's stdout (JSON): the pipe is what crosses the namespace boundary. */
export const ChildLineSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('event'), msg: SourceMessageSchema }),
  z.object({ t: z.literal('note'), text: z.string() }),
  z.object({ t: z.literal('phase'), name: z.string(), observed: RunObservedSchema }),
  z.object({ t: z.literal('result'), observed: RunObservedSchema, sandbox: SandboxInfoSchema }),
  z.object({ t: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ChildLine = z.infer<typeof ChildLineSchema>;
