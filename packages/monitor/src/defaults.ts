import { hostname } from 'node:os';
import type { TcpSample } from '@kalab/core';
import { BadOptionError } from '@kalab/core/errors';
import { isLoopbackHost, parseInteger } from '@kalab/core/options';

import { generateToken } from './token.js';

/** Every default of the monitor, in one place. */
export const MONITOR_DEFAULTS = {
  host: '127.0.0.1',
  port: 7070,
  /** ws ping interval; a peer that misses one pong is dropped and its source marked lost. */
  heartbeatMs: 5000,
  /** How often viewers get a snapshot unless they subscribe with another interval. */
  snapshotIntervalMs: 500,
  /** Aggregation tick: local TCP sample, history point, recorded line. */
  tickMs: 1000,
  /** A peer that has not said hello by then is closed (1008). */
  helloTimeoutMs: 5000,
  /** Per-second history points kept (10 minutes). */
  historySize: 600,
  /** Concurrent ws peers; more are refused with 1013. */
  maxPeers: 1024,
  /** Sources (name + role + host) remembered; the oldest disconnected ones are forgotten first. */
  maxSources: 256,
  /** Hosts whose TCP samples are kept. */
  maxHosts: 64,
  /** A viewer whose socket holds more than this many unsent bytes skips snapshots until it drains. */
  viewerBufferBytes: 1024 * 1024,
  /** Socket rows shown in a snapshot's connections table. */
  maxConnectionRows: 200,
  /** Runs remembered (metadata and reports). */
  maxRuns: 50,
} as const;

/** Fan-out timing (`kalab loadgen --agents`): clock probes, the start's lead, progress to the viewer. */
export const FANOUT_DEFAULTS = {
  /** Clock pings per agent; the one with the shortest round trip gives the offset. */
  clockSamples: 4,
  /** An agent whose workers are not ready and clock not probed by then is stopped; the others go without it. */
  readyTimeoutMs: 30_000,
  /** The agreed start is this far past the slowest round trip (run-go must reach every agent before it). */
  startLeadMs: 250,
  /** Merged progress to the viewer that asked. */
  progressMs: 1000,
} as const;

/**
 * The range of every numeric option (inclusive; times in ms) and of the token's length. The
 * one table: resolveMonitorOptions checks against it and `kalab monitor` derives its flags'
 * checks and messages from it.
 */
export const MONITOR_LIMITS = {
  port: { min: 0, max: 65_535 },
  tokenLength: { min: 1, max: 256 },
  heartbeatMs: { min: 50, max: 3_600_000 },
  snapshotIntervalMs: { min: 20, max: 60_000 },
  tickMs: { min: 20, max: 60_000 },
  helloTimeoutMs: { min: 50, max: 600_000 },
  historySize: { min: 1, max: 100_000 },
  maxPeers: { min: 1, max: 1_000_000 },
  maxSources: { min: 1, max: 100_000 },
  maxHosts: { min: 1, max: 10_000 },
  viewerBufferBytes: { min: 1024, max: 1 << 30 },
} as const;

/** Samples this host; `port` is the current run's target port, whose sockets the rows should show. */
export type LocalSampler = (host: string, port?: number) => Promise<TcpSample>;

export interface MonitorOptions {
  /** Interface to bind (default 127.0.0.1). A non-loopback host requires a token; one is generated when missing. */
  host?: string;
  /** Port (default 7070; 0 picks a free one). */
  port?: number;
  token?: string;
  /** Directory where each run is recorded as JSON lines. */
  recordDir?: string;
  /** The monitor's own host name in snapshots (default os.hostname()). */
  hostName?: string;
  heartbeatMs?: number;
  snapshotIntervalMs?: number;
  tickMs?: number;
  helloTimeoutMs?: number;
  historySize?: number;
  maxPeers?: number;
  maxSources?: number;
  maxHosts?: number;
  viewerBufferBytes?: number;
  /**
   * Samples the monitor's own host TCP table every tick. Default: core's sampleTcp over every
   * socket; `false` turns local sampling off (tests that only want their sources' samples).
   */
  sampleLocalTcp?: false | LocalSampler;
}

/** What each option is called in messages: `options.NAME` by default, a CLI's flag when the CLI says so. */
export type MonitorOptionNames = Partial<Record<keyof MonitorOptions, string>>;

export interface ResolvedMonitorOptions
  extends Required<Omit<MonitorOptions, 'token' | 'recordDir' | 'sampleLocalTcp'>> {
  /** The names messages use for options raised after resolution (recordDir when the directory is unusable). */
  names: MonitorOptionNames;
  token: string | undefined;
  /** True when the token was generated because a non-loopback bind needs one. */
  tokenGenerated: boolean;
  recordDir: string | undefined;
  sampleLocalTcp: false | LocalSampler | undefined;
}

/**
 * Validates options once, at the boundary; messages name the option (or the flag `names`
 * gives for it) and its range from MONITOR_LIMITS.
 */
export function resolveMonitorOptions(o: MonitorOptions = {}, names: MonitorOptionNames = {}): ResolvedMonitorOptions {
  const d = MONITOR_DEFAULTS;
  const L = MONITOR_LIMITS;
  const nameOf = (key: keyof MonitorOptions) => names[key] ?? `options.${key}`;
  const int = (key: keyof MonitorOptions & keyof typeof MONITOR_LIMITS, def: number) => {
    const v = o[key] as number | undefined;
    return v === undefined ? def : parseInteger(nameOf(key), v, L[key].min, L[key].max);
  };
  const host = o.host ?? d.host;
  if (typeof host !== 'string' || host.length === 0)
    throw new BadOptionError(nameOf('host'), `${nameOf('host')} must be a non-empty string`);
  let token = o.token;
  const { min, max } = L.tokenLength;
  if (token !== undefined && (typeof token !== 'string' || token.length < min || token.length > max)) {
    throw new BadOptionError(nameOf('token'), `${nameOf('token')} must be a string of ${min} to ${max} characters`);
  }
  let tokenGenerated = false;
  if (token === undefined && !isLoopbackHost(host)) {
    token = generateToken();
    tokenGenerated = true;
  }
  return {
    host,
    port: int('port', d.port),
    token,
    tokenGenerated,
    recordDir: o.recordDir,
    hostName: o.hostName ?? hostname(),
    heartbeatMs: int('heartbeatMs', d.heartbeatMs),
    snapshotIntervalMs: int('snapshotIntervalMs', d.snapshotIntervalMs),
    tickMs: int('tickMs', d.tickMs),
    helloTimeoutMs: int('helloTimeoutMs', d.helloTimeoutMs),
    historySize: int('historySize', d.historySize),
    maxPeers: int('maxPeers', d.maxPeers),
    maxSources: int('maxSources', d.maxSources),
    maxHosts: int('maxHosts', d.maxHosts),
    viewerBufferBytes: int('viewerBufferBytes', d.viewerBufferBytes),
    sampleLocalTcp: o.sampleLocalTcp,
    names,
  };
}
