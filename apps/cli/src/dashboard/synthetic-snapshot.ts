import { PROTOCOL_VERSION, type Snapshot } from '@kalab/core';

export interface SyntheticOptions {
  /** Snapshot time (ms since epoch). */
  at?: number;
  /** Seconds of history (one point per second). */
  seconds?: number;
  rps?: number;
  newConnPerSec?: number;
  /** Rows in the connections table. */
  connections?: number;
  hosts?: string[];
  errors?: Record<string, number>;
}

/**
 * A busy, schema-valid snapshot: what the monitor would send during a churning run.
 * Render tests draw it at fixed sizes; the CPU bench feeds it at the monitor's rate.
 */
export function syntheticSnapshot(options: SyntheticOptions = {}): Snapshot {
  const at = options.at ?? 1_760_000_000_000;
  const seconds = options.seconds ?? 120;
  const rps = options.rps ?? 10_000;
  const newConn = options.newConnPerSec ?? 900;
  const hosts = options.hosts ?? ['client-ns', 'server-ns'];
  const wave = (i: number, base: number) => Math.round(base * (0.75 + 0.25 * Math.sin(i / 5)));
  const times = Array.from({ length: seconds }, (_, i) => at - (seconds - 1 - i) * 1000);
  const requests = rps * seconds;
  const opened = newConn * seconds;
  const states: Snapshot['history']['states'] = {};
  const hostSnaps: Snapshot['hosts'] = {};
  hosts.forEach((host, h) => {
    const tw = times.map((_, i) => Math.min(27_000, wave(i, newConn) * Math.min(i + 1, 60)) >> h);
    const est = times.map((_, i) => wave(i + h, 50));
    states[host] = {
      ESTABLISHED: est,
      TIME_WAIT: tw,
      CLOSE_WAIT: times.map(() => h),
      FIN_WAIT2: times.map((_, i) => i % 3),
    };
    hostSnaps[host] = {
      states: { ESTABLISHED: est.at(-1)!, TIME_WAIT: tw.at(-1)!, CLOSE_WAIT: h, FIN_WAIT2: 1, LISTEN: 2 },
      ephemeral: { range: [32768, 60999], inUse: tw.at(-1)! + est.at(-1)!, timeWait: tw.at(-1)! },
      exhaustionSeconds: h === 0 ? 31 : null,
      at,
    };
  });
  const rows = options.connections ?? 40;
  const connections = Array.from({ length: rows }, (_, i) => ({
    state: i % 4 === 0 ? 'TIME_WAIT' : 'ESTABLISHED',
    local: `127.0.0.1:${40000 + i}`,
    remote: '127.0.0.1:8080',
    ageMs: i % 4 === 0 ? null : 1000 * (i + 1),
    requests: i % 4 === 0 ? null : 100 * (i + 1),
  }));
  return {
    v: PROTOCOL_VERSION,
    type: 'snapshot',
    at,
    startedAt: times[0]!,
    sources: [
      {
        id: 's1',
        name: 'embedded-server',
        role: 'server',
        host: hosts[hosts.length - 1]!,
        connected: true,
        lost: false,
        lastSeen: at,
        totals: { requests, connectionsOpened: opened, errors: 0 },
        rates: { rps, newConnPerSec: newConn },
        openConnections: 50,
      },
      {
        id: 'a1',
        name: 'loadgen',
        role: 'agent',
        host: hosts[0]!,
        connected: true,
        lost: false,
        lastSeen: at,
        runId: 'run-1',
        totals: { requests, connectionsOpened: opened, errors: 12 },
        rates: { rps, newConnPerSec: newConn },
        openConnections: 50,
        errors: { ECONNRESET: 12 },
      },
    ].map((s) => ({ errors: {}, ...s })) as Snapshot['sources'],
    hosts: hostSnaps,
    merged: {
      requests,
      connectionsOpened: opened,
      rps,
      newConnPerSec: newConn,
      requestsPerConnection: opened > 0 ? requests / opened : 0,
      latencyMs: { mean: 0.84, p50: 0.61, p90: 1.42, p99: 3.87, p999: 12.5, max: 48.2 },
      connectMs: { mean: 0.09, p50: 0.07, p99: 0.41, max: 2.3 },
      errors: options.errors ?? { ECONNRESET: 12, EADDRNOTAVAIL: 3 },
    },
    history: {
      at: times,
      rps: times.map((_, i) => wave(i, rps)),
      newConnPerSec: times.map((_, i) => wave(i + 3, newConn)),
      states,
    },
    connections,
    findings: [
      {
        id: 'churn',
        severity: 'warn',
        message: `${(rps / newConn).toFixed(1)} requests per connection: most requests open a new connection.`,
      },
      {
        id: 'time-wait',
        severity: 'error',
        message: 'TIME_WAIT grows 900/s: the 28,232-port range is exhausted in ~31 s.',
      },
      { id: 'latency', severity: 'info', message: 'p99 latency 3.87 ms.' },
    ],
    run: {
      id: 'run-1',
      scenario: 'port-exhaustion',
      target: 'http://127.0.0.1:8080/',
      startedAt: times[0]!,
      running: true,
    },
  };
}
