import { LAB_VERSION, type LatencyHistogram } from '@kalab/core';
import type { Snapshot } from '@kalab/protocol';
import type { HubStats } from './hub-stats.js';

/** Escapes a label value as the exposition format requires: backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

type Labels = Record<string, string>;
/** A sample: labels and value, or for a summary's `_sum`/`_count` the suffix too. */
type Sample = [Labels, number] | [Labels, number, '_sum' | '_count'];

class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: Sample[]): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    this.lines.push(`# TYPE ${name} ${type}`);
    for (const [l, v, suffix] of samples) this.lines.push(`${name}${suffix ?? ''}${labels(l)} ${num(v)}`);
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

export interface MetricsInput {
  snapshot: Snapshot;
  hub: HubStats;
  /** The merged request latency and connect time histograms behind `snapshot.merged` (for `_count` and `_sum`). */
  latency: LatencyHistogram;
  connect: LatencyHistogram;
}

/** Milliseconds (rounded to the microsecond) to seconds, without float noise such as 0.0012490000000000001. */
const seconds = (ms: number) => Math.round(ms * 1000) / 1e6;
/**
 * A summary family from a merged HDR histogram: its quantiles (milliseconds in the snapshot,
 * seconds here), and `_sum` (the histogram's mean times its count) and `_count`.
 */
function summary(
  e: Exposition,
  name: string,
  what: string,
  quantilesMs: [quantile: string, ms: number][],
  h: LatencyHistogram,
): void {
  e.family(name, 'summary', `${what}, merged from their HDR histograms (quantile 1 is the maximum).`, [
    ...quantilesMs.map(([q, ms]): Sample => [{ quantile: q }, seconds(ms)]),
    [{}, Math.round(h.h.mean * h.count) / 1e6, '_sum'],
    [{}, h.count, '_count'],
  ]);
}

/**
 * The monitor's picture in the Prometheus text exposition format (version 0.0.4), `kalab_*`
 * names that follow Prometheus's conventions (and pass `promtool check metrics`): base units
 * (seconds) in the name, `_total` on counters only, HELP and TYPE on every family.
 */
export function renderMetrics({ snapshot: s, hub, latency, connect }: MetricsInput): string {
  const e = new Exposition();
  const src = (x: Snapshot['sources'][number]) => ({ host: x.host, role: x.role, name: x.name });

  e.family('kalab_build_info', 'gauge', 'Always 1; the version label says which kalab the monitor runs.', [
    [{ version: LAB_VERSION }, 1],
  ]);
  e.family('kalab_up', 'gauge', 'Always 1 while the monitor answers.', [[{}, 1]]);
  e.family(
    'kalab_source_connected',
    'gauge',
    'Whether the source is connected to the monitor (1) or not (0).',
    s.sources.map((x) => [src(x), x.connected ? 1 : 0]),
  );
  e.family(
    'kalab_source_lost',
    'gauge',
    'Whether the source died without saying goodbye or missed a heartbeat.',
    s.sources.map((x) => [src(x), x.lost ? 1 : 0]),
  );
  e.family(
    'kalab_source_last_seen_timestamp_seconds',
    'gauge',
    'When the monitor last heard from the source (Unix time).',
    s.sources.map((x) => [src(x), seconds(x.lastSeen)]),
  );
  e.family(
    'kalab_requests_total',
    'counter',
    'Requests the source counted (loadgen: completed; server: served).',
    s.sources.map((x) => [src(x), x.totals.requests]),
  );
  e.family(
    'kalab_connections_opened_total',
    'counter',
    'TCP connections the source opened (loadgen) or accepted (server).',
    s.sources.map((x) => [src(x), x.totals.connectionsOpened]),
  );
  e.family(
    'kalab_requests_per_second',
    'gauge',
    'Requests per second over the source last interval (held for one history second after a run reports).',
    s.sources.map((x) => [src(x), x.rates.rps]),
  );
  e.family(
    'kalab_new_connections_per_second',
    'gauge',
    'New TCP connections per second over the source last interval (held like the request rate).',
    s.sources.map((x) => [src(x), x.rates.newConnPerSec]),
  );
  e.family(
    'kalab_open_connections',
    'gauge',
    'TCP connections the source holds open now.',
    s.sources.map((x) => [src(x), x.openConnections]),
  );
  const errs: Sample[] = [];
  for (const x of s.sources) for (const [code, n] of Object.entries(x.errors)) errs.push([{ ...src(x), code }, n]);
  e.family('kalab_errors_total', 'counter', 'Failed requests by error code.', errs);

  const m = s.merged;
  e.family('kalab_merged_requests_per_connection', 'gauge', 'Requests per TCP connection over every load source.', [
    [{}, m.requestsPerConnection],
  ]);
  const lat = m.latencyMs;
  summary(
    e,
    'kalab_merged_latency_seconds',
    'Request latency over the latest run of every load source',
    [
      ['0.5', lat.p50],
      ['0.9', lat.p90],
      ['0.99', lat.p99],
      ['0.999', lat.p999],
      ['1', lat.max],
    ],
    latency,
  );
  const con = m.connectMs;
  summary(
    e,
    'kalab_merged_connect_seconds',
    'TCP connect time over the latest run of every load source',
    [
      ['0.5', con.p50],
      ['0.99', con.p99],
      ['1', con.max],
    ],
    connect,
  );

  const states: Sample[] = [];
  const inUse: Sample[] = [];
  const range: Sample[] = [];
  const eta: Sample[] = [];
  for (const [host, h] of Object.entries(s.hosts)) {
    for (const [state, n] of Object.entries(h.states)) states.push([{ host, state }, n]);
    if (h.ephemeral) {
      inUse.push([{ host }, h.ephemeral.inUse]);
      range.push([{ host }, h.ephemeral.range[1] - h.ephemeral.range[0] + 1]);
    }
    if (h.exhaustionSeconds !== null) eta.push([{ host }, h.exhaustionSeconds]);
  }
  e.family('kalab_tcp_sockets', 'gauge', 'TCP sockets on the host by kernel state.', states);
  e.family('kalab_ephemeral_ports_in_use', 'gauge', 'Ephemeral ports in use on the host (TIME_WAIT included).', inUse);
  e.family('kalab_ephemeral_ports_range_size', 'gauge', 'Size of the host ip_local_port_range.', range);
  e.family(
    'kalab_ephemeral_ports_exhaustion_seconds',
    'gauge',
    'Seconds until the ephemeral range is full at the current growth (absent when not growing).',
    eta,
  );

  e.family(
    'kalab_hub_peers',
    'gauge',
    'ws peers connected to the monitor by role (pending: no hello yet).',
    Object.entries(hub.peers).map(([role, n]) => [{ role }, n]),
  );
  e.family('kalab_hub_accepted_total', 'counter', 'ws connections the monitor accepted.', [[{}, hub.accepted]]);
  e.family('kalab_hub_messages_total', 'counter', 'Valid ws messages received.', [[{}, hub.messages]]);
  e.family(
    'kalab_hub_rejected_total',
    'counter',
    'ws connections closed by the monitor, by reason.',
    Object.entries(hub.rejected).map(([reason, n]) => [{ reason }, n]),
  );
  e.family('kalab_hub_snapshots_sent_total', 'counter', 'Snapshots sent to viewers.', [[{}, hub.snapshotsSent]]);
  e.family(
    'kalab_hub_snapshots_skipped_total',
    'counter',
    'Snapshots not sent because the viewer had not drained the previous ones.',
    [[{}, hub.snapshotsSkipped]],
  );
  return e.toString();
}
