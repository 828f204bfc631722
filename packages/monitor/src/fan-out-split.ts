import { BadOptionError, CapExceededError } from '@kalab/core';
import { bodyBytesOf, bodyCapViolation, capViolation, type ResolvedCaps, type RunOptions } from '@kalab/protocol';

export interface SplitAgent {
  name: string;
  caps: ResolvedCaps;
}

/**
 * Splits `-c`, `-n` and `-R` over agents: connections as evenly as each agent's
 * `--max-connections` allows (what one cannot take goes to those with room), requests and
 * rate in proportion to each agent's connections, the duration the same for all. Throws
 * BadOptionError when a number cannot be split (fewer connections or requests than agents)
 * or the request body is larger than an agent sends (its --max-body-bytes: every agent sends
 * the whole body, so no split helps), and CapExceededError naming the agent and the cap a
 * slice would break.
 */
export function splitFanOut(options: RunOptions & { connections: number }, agents: SplitAgent[]): RunOptions[] {
  const n = agents.length;
  const c = options.connections;
  const bodyBytes = bodyBytesOf(options);
  for (const a of agents) {
    const why = bodyCapViolation(bodyBytes, a.caps);
    if (why) throw new BadOptionError('-b', `agent ${a.name} refuses the run: ${why}`);
  }
  if (c < n)
    throw new BadOptionError(
      '-c',
      `-c ${c} cannot be split over ${n} agents: each agent needs at least one connection`,
    );
  if (options.requests !== undefined && options.requests < n)
    throw new BadOptionError('-n', `-n ${options.requests} cannot be split over ${n} agents: each needs one request`);
  const held = agents.reduce((s, a) => s + a.caps.maxConnections, 0);
  if (held < c) {
    const each = agents.map((a) => `${a.name} --max-connections ${a.caps.maxConnections}`).join(', ');
    throw new CapExceededError(`-c ${c} is more than the ${n} agents hold together (${held}): ${each}`);
  }
  const conns = waterFill(
    c,
    agents.map((a) => a.caps.maxConnections),
  );
  const requests = options.requests === undefined ? undefined : proportional(options.requests, conns, c);
  return agents.map((a, i) => {
    const mine = conns[i]!;
    const slice: RunOptions = { ...options, connections: mine };
    if (requests) slice.requests = requests[i]!;
    if (options.rate !== undefined) slice.rate = (options.rate * mine) / c;
    if (options.workers !== undefined) slice.workers = Math.min(options.workers, mine);
    const why = capViolation({ target: slice.target, connections: mine, durationMs: slice.durationMs }, a.caps);
    if (why) throw new CapExceededError(`agent ${a.name} refuses its share: ${why}`);
    return slice;
  });
}

/** `total` spread as evenly as the caps allow (the caller checked that they hold it together). */
function waterFill(total: number, caps: number[]): number[] {
  const out = caps.map(() => 0);
  let left = total;
  while (left > 0) {
    const open = caps.map((cap, i) => (out[i]! < cap ? i : -1)).filter((i) => i >= 0);
    const per = Math.floor(left / open.length);
    const extra = left % open.length;
    open.forEach((i, k) => {
      const add = Math.min(caps[i]! - out[i]!, per + (k < extra ? 1 : 0));
      out[i]! += add;
      left -= add;
    });
  }
  return out;
}

/** `total` in proportion to `weights` (summing to `sum`), remainders to the first ones, each at least 1. */
function proportional(total: number, weights: number[], sum: number): number[] {
  const out = weights.map((w) => Math.max(1, Math.floor((total * w) / sum)));
  let left = total - out.reduce((s, x) => s + x, 0);
  for (let i = 0; left > 0; i = (i + 1) % out.length, left--) out[i]!++;
  for (let i = out.length - 1; left < 0; i = (i - 1 + out.length) % out.length) {
    if (out[i]! > 1) {
      out[i]!--;
      left++;
    }
  }
  return out;
}
