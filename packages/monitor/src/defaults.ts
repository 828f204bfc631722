import { hostname } from 'node:os';
import { BadOptionError, isLoopbackHost, parseInteger, type TcpSample } from '@kalab/core';
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

export interface ResolvedMonitorOptions
  extends Required<Omit<MonitorOptions, 'token' | 'recordDir' | 'sampleLocalTcp'>> {
  token: string | undefined;
  /** True when the token was generated because a non-loopback bind needs one. */
  tokenGenerated: boolean;
  recordDir: string | undefined;
  sampleLocalTcp: false | LocalSampler | undefined;
}

/** Validates options once, at the boundary; messages name the option and its range. */
export function resolveMonitorOptions(o: MonitorOptions = {}): ResolvedMonitorOptions {
  const d = MONITOR_DEFAULTS;
  const int = (name: string, v: number | undefined, def: number, min: number, max?: number) =>
    v === undefined ? def : parseInteger(`options.${name}`, v, min, max);
  const host = o.host ?? d.host;
  if (typeof host !== 'string' || host.length === 0)
    throw new BadOptionError('options.host', 'options.host must be a non-empty string');
  let token = o.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 1 || token.length > 256)) {
    throw new BadOptionError('options.token', 'options.token must be a string of 1 to 256 characters');
  }
  let tokenGenerated = false;
  if (token === undefined && !isLoopbackHost(host)) {
    token = generateToken();
    tokenGenerated = true;
  }
  return {
    host,
    port: int('port', o.port, d.port, 0, 65_535),
    token,
    tokenGenerated,
    recordDir: o.recordDir,
    hostName: o.hostName ?? hostname(),
    heartbeatMs: int('heartbeatMs', o.heartbeatMs, d.heartbeatMs, 50, 3_600_000),
    snapshotIntervalMs: int('snapshotIntervalMs', o.snapshotIntervalMs, d.snapshotIntervalMs, 20, 60_000),
    tickMs: int('tickMs', o.tickMs, d.tickMs, 20, 60_000),
    helloTimeoutMs: int('helloTimeoutMs', o.helloTimeoutMs, d.helloTimeoutMs, 50, 600_000),
    historySize: int('historySize', o.historySize, d.historySize, 1, 100_000),
    maxPeers: int('maxPeers', o.maxPeers, d.maxPeers, 1, 1_000_000),
    maxSources: int('maxSources', o.maxSources, d.maxSources, 1, 100_000),
    maxHosts: int('maxHosts', o.maxHosts, d.maxHosts, 1, 10_000),
    viewerBufferBytes: int('viewerBufferBytes', o.viewerBufferBytes, d.viewerBufferBytes, 1024, 1 << 30),
    sampleLocalTcp: o.sampleLocalTcp,
  };
}
