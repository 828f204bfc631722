import { LatencyHistogram } from '@kalab/core';
import type { SourceState } from './source-state.js';

export interface MergedCounters {
  requests: number;
  connectionsOpened: number;
  reusedRequests: number;
  rps: number;
  newConnPerSec: number;
  errors: Record<string, number>;
  latency: LatencyHistogram;
  connect: LatencyHistogram;
}

/**
 * The merged histograms, reused by every call: the hub merges for each snapshot, tick and
 * /metrics (5+ times a second), and two fresh 86 KB counts arrays each time were most of its
 * garbage. Callers read them before the next call (all do, synchronously).
 */
const scratch = { latency: new LatencyHistogram(), connect: new LatencyHistogram() };

/**
 * Totals and rates of the load side: the agents and observers (`kalab observe`, a client seen
 * from outside) when there are any, else the servers (a server and the agent loading it count
 * the same requests; adding both would double them).
 * Rates count only connected sources; latency merges each source's current or last run.
 * The returned histograms are valid until the next call.
 */
export function mergeLoadSources(sources: Iterable<SourceState>): MergedCounters {
  const all = [...sources];
  const isClient = (s: SourceState) => s.role === 'agent' || s.role === 'observer';
  const hasAgents = all.some(isClient);
  const out: MergedCounters = {
    requests: 0,
    connectionsOpened: 0,
    reusedRequests: 0,
    rps: 0,
    newConnPerSec: 0,
    errors: {},
    latency: scratch.latency,
    connect: scratch.connect,
  };
  out.latency.reset();
  out.connect.reset();
  for (const s of all) {
    if (hasAgents ? !isClient(s) : s.role !== 'server') continue;
    const t = s.totals;
    out.requests += t.requests;
    out.connectionsOpened += t.connectionsOpened;
    out.reusedRequests += t.reusedRequests;
    if (s.connected) {
      out.rps += s.rates.rps;
      out.newConnPerSec += s.rates.newConnPerSec;
    }
    for (const [code, n] of Object.entries(s.errors)) out.errors[code] = (out.errors[code] ?? 0) + n;
    if (s.latency.count > 0) out.latency.merge(s.latency);
    if (s.connect.count > 0) out.connect.merge(s.connect);
  }
  return out;
}
