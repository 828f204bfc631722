import { z } from 'zod';
import type { CaptureTarget } from './capture-file.js';
import { ObserveReportSchema, RemoteSummarySchema, TimelineEntrySchema } from './report.js';

/** The program's network inside the namespace: loopback only, or a way out through slirp4netns. */
export type NetMode = 'isolated' | 'outbound';

/** What the parent hands the sandboxed observer (argv[2], JSON). */
export interface SandboxConfig {
  command: string[];
  intervalMs: number;
  durationMs: number | null;
  graceMs: number;
  portRange: [number, number] | null;
  twReuse: number | null;
  serve: number | null;
  /** `--capture`, checked by the parent (checkCaptureTarget). */
  capture: CaptureTarget | null;
  /** Send a tick line every second (live streaming). */
  ticks: boolean;
  net: NetMode;
  /** With net 'outbound': the resolv.conf (written by the parent) to bind over /etc/resolv.conf. */
  resolvConf: string | null;
}

const count = z.number().int().nonnegative();

/** JSON lines from the sandboxed observer to the parent, on fd 3 (stdout and stderr are the program's). */
export const ChildLineSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('started'), pid: z.number().int().nonnegative() }),
  // The tracker's TrackerTick, plus the requests the lab server counted.
  z.object({
    t: z.literal('tick'),
    requests: count,
    atMs: z.number().nonnegative(),
    entry: TimelineEntrySchema,
    remotes: z.array(RemoteSummarySchema),
    samples: count,
    opened: count,
    states: z.record(z.string(), count),
  }),
  z.object({ t: z.literal('done'), report: ObserveReportSchema }),
  z.object({ t: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ChildLine = z.infer<typeof ChildLineSchema>;
