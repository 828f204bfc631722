import { DOCTOR_DEFAULTS } from './defaults.js';
import { onlyConnectionErrors, type ProbeContext } from './probe-context.js';

export interface PipeliningObservation {
  sent: number;
  answered: number;
  /** True when the server answered more than one of the requests written together. */
  supported: boolean | null;
}

/**
 * Writes several GETs in one write and counts the responses. A server that answers
 * only the first (then closes or goes quiet) does not support pipelining; one that
 * answers none tells nothing.
 */
export async function checkPipelining(
  ctx: ProbeContext,
  depth: number = DOCTOR_DEFAULTS.pipelineDepth,
): Promise<PipeliningObservation> {
  let conn: Awaited<ReturnType<ProbeContext['connect']>>;
  try {
    conn = await ctx.connect();
  } catch (err) {
    onlyConnectionErrors(err);
    return { sent: 0, answered: 0, supported: null };
  }
  conn.send(depth);
  await conn.waitFor(() => conn.responses.length >= depth, ctx.stepMs(5_000), ctx.signal);
  const answered = conn.responses.length;
  conn.destroy();
  await conn.whenClosed;
  return { sent: depth, answered, supported: answered >= 2 ? true : answered === 1 ? false : null };
}
