import { type Finding, findingsFor } from '@kalab/protocol';
import type { HostState } from './host-state.js';
import type { MergedCounters } from './merged-counters.js';
import type { RunState } from './run-table.js';
import type { SourceState } from './source-state.js';

/** At most this many findings in a snapshot. */
const MAX_FINDINGS = 20;

/**
 * Findings about what is on screen: the current run when there is one (its own report's
 * findings once it ended, else its running totals with its configuration), otherwise the
 * merged counters. The TCP side comes from the run's own host (the client), else the host
 * whose ephemeral ports are in the worst shape.
 */
export function findingsNow(
  run: RunState | undefined,
  merged: MergedCounters,
  sources: Iterable<SourceState>,
  hosts: ReadonlyMap<string, HostState>,
  now: number,
): Finding[] {
  if (run && !run.running && run.report) return run.report.findings.slice(0, MAX_FINDINGS);
  let counts: Pick<MergedCounters, 'requests' | 'connectionsOpened' | 'reusedRequests' | 'errors'> = merged;
  let hostName: string | undefined;
  if (run) {
    const source = [...sources].find((s) => s.id === run.sourceId);
    const rt = source?.runTotals(run.id);
    if (rt) counts = { ...rt.totals, errors: rt.errors };
    if (source && hosts.has(source.host)) hostName = source.host;
  }
  let tcp:
    | { inUse: number; range: readonly [number, number] | null; timeWait: number; timeWaitPerSec: number }
    | undefined;
  for (const h of hosts.values()) {
    if (hostName !== undefined && h.name !== hostName) continue;
    const s = h.snapshot(now);
    const tw = s.states['TIME_WAIT'] ?? 0;
    const inUse = s.ephemeral?.inUse ?? 0;
    if (!tcp || inUse > tcp.inUse || (inUse === tcp.inUse && tw > tcp.timeWait)) {
      tcp = { inUse, range: s.ephemeral?.range ?? null, timeWait: tw, timeWaitPerSec: h.growth().timeWaitPerSec };
    }
  }
  const cfg = run?.config ?? {};
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const bool = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
  try {
    return findingsFor({
      requests: counts.requests,
      connectionsOpened: counts.connectionsOpened,
      reusedRequests: counts.reusedRequests,
      errors: counts.errors,
      keepAlive: bool(cfg['keepAlive']),
      consumeBody: bool(cfg['consumeBody']),
      connections: num(cfg['connections']),
      maxIdle: num(cfg['maxIdle']),
      ...(tcp
        ? {
            timeWait: tcp.timeWait,
            timeWaitPerSec: tcp.timeWaitPerSec,
            ephemeralRange: tcp.range,
            ephemeralInUse: tcp.inUse,
          }
        : {}),
    }).slice(0, MAX_FINDINGS);
  } catch {
    return [];
  }
}
