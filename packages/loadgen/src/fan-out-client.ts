import { randomUUID } from 'node:crypto';
import {
  AbortedError,
  AuthError,
  BadOptionError,
  BusyError,
  CapExceededError,
  ErrorCodes,
  type KalabError,
  ProtocolError,
  TimeoutError,
  UnreachableError,
  UnsupportedError,
} from '@kalab/core';
import {
  type AgentInfo,
  type FanOutPart,
  type FanOutProgress,
  type FanOutStarted,
  type HubMessage,
  MonitorLink,
  PROTOCOL_VERSION,
  type RunOptions,
} from '@kalab/protocol';
import { configOf, type LoadReport } from './build-report.js';
import { engineThatRuns } from './defaults.js';
import { mergeFanOut } from './merge-reports.js';
import { type LoadOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type RunOutcome, runOutcome } from './outcome.js';

export interface FanOutOptions {
  /** ws://HOST:PORT/ws of the monitor the agents are connected to. */
  via: string;
  token?: string;
  /** How many idle agents share the run, or every idle one. */
  agents: number | 'all';
  load: LoadOptions;
  signal?: AbortSignal;
  onStarted?: (m: FanOutStarted) => void;
  onProgress?: (m: FanOutProgress) => void;
}

/** The error a monitor's `error` message stands for, as the class its code names. */
function errorOf(code: string, message: string): KalabError {
  switch (code) {
    case ErrorCodes.AUTH:
      return new AuthError(message);
    case ErrorCodes.BUSY:
      return new BusyError(message);
    case ErrorCodes.CAP_EXCEEDED:
      return new CapExceededError(message);
    case ErrorCodes.BAD_OPTION:
      return new BadOptionError('--agents', message);
    case ErrorCodes.ABORTED:
      return new AbortedError(message);
    case ErrorCodes.UNSUPPORTED:
      return new UnsupportedError(message);
    case ErrorCodes.UNREACHABLE:
      return new UnreachableError(message);
    default:
      return new ProtocolError(message);
  }
}

/** The run each agent shares: only what the user set, so each agent applies its own defaults (workers: its cores). */
function runOptionsOf(load: LoadOptions, r: ResolvedOptions): RunOptions {
  if (r.localAddresses.length > 0)
    throw new BadOptionError(
      '--local-address',
      "--local-address names this machine's addresses; it cannot go with --agents",
    );
  return {
    target: r.target,
    engine: r.engine,
    connections: r.connections,
    ...(r.requests !== null ? { requests: r.requests } : {}),
    ...(r.durationMs !== null ? { durationMs: Math.round(r.durationMs) } : {}),
    ...(r.rate !== null ? { rate: r.rate } : {}),
    ...(load.workers !== undefined ? { workers: r.workers } : {}),
    keepAlive: r.keepAlive,
    ...(load.maxIdle !== undefined ? { maxIdle: r.maxIdle } : {}),
    consumeBody: r.consumeBody,
    pipelining: r.pipelining,
    ...(load.timeoutMs !== undefined ? { timeoutMs: Math.round(r.timeoutMs) } : {}),
    // The request and TLS fields as the user gave them (LoadOptions names them as RunOptions does).
    ...pick(load, ['method', 'headers', 'body', 'bodyEncoding', 'insecure', 'ca', 'servername', 'tlsResume']),
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function workersOf(parts: FanOutPart[]): number {
  return parts.reduce(
    (n, p) => n + (typeof p.report?.config['workers'] === 'number' ? p.report.config['workers'] : 0),
    0,
  );
}

/** A viewer link that gives up at once: a fan-out cannot outlive its monitor connection. */
function viewerLink(via: string, token: string | undefined): MonitorLink {
  return new MonitorLink({ url: via, token, role: 'viewer', name: `loadgen-${process.pid}`, maxAttempts: 1 }).start();
}

/**
 * Runs one load across agents through a monitor (`kalab loadgen URL --via ... --agents N|all`):
 * the monitor splits it, starts every agent at one instant and hands back each agent's report
 * (or a lost agent's last tick); the result is their exact merge with `agents` and `outcome`.
 * Aborting the signal stops every agent; their reports still come back and are merged.
 */
export async function runFanOut(o: FanOutOptions): Promise<LoadReport> {
  const resolved = resolveOptions(o.load);
  const options = runOptionsOf(o.load, resolved);
  const runId = randomUUID().slice(0, 8);
  const agents = o.agents;
  const link = viewerLink(o.via, o.token);
  try {
    return await new Promise<LoadReport>((resolve, reject) => {
      let started = false;
      const fail = (err: Error) => reject(err);
      const stop = () => link.send({ v: PROTOCOL_VERSION, type: 'run-stop', runId });
      o.signal?.addEventListener('abort', stop, { once: true });
      link.on('fatal', fail);
      link.on('disconnected', () =>
        fail(new UnreachableError(`monitor ${o.via} closed the connection before the fan-out reported`)),
      );
      link.on('connected', () => {
        if (started) return;
        started = true;
        // Snapshots are for dashboards: this viewer wants the fan-out's own messages only.
        link.send({ v: PROTOCOL_VERSION, type: 'subscribe', intervalMs: 60_000 });
        link.send({ v: PROTOCOL_VERSION, type: 'fanout-start', runId, agents, options });
        if (o.signal?.aborted) stop();
      });
      link.on('message', (m: HubMessage) => {
        if (m.type === 'error') fail(errorOf(m.code, m.message));
        else if (m.type === 'fanout-started' && m.runId === runId) o.onStarted?.(m);
        else if (m.type === 'fanout-progress' && m.runId === runId) o.onProgress?.(m);
        else if (m.type === 'fanout-report' && m.runId === runId) {
          const report = mergeFanOut(m.parts, {
            target: resolved.target,
            engine: engineThatRuns(resolved),
            // Workers ran on the agents (each its own default): their sum, not this machine's default.
            config: { ...configOf(resolved), workers: workersOf(m.parts), agents: m.parts.length },
            tls: resolved.tls,
          });
          resolve(report);
        }
      });
    });
  } finally {
    await link.close(500);
  }
}

/** The agents connected to a monitor, with their caps and state (`kalab loadgen --via ... --list-agents`). */
export async function listAgents(o: { via: string; token?: string; timeoutMs?: number }): Promise<AgentInfo[]> {
  const link = viewerLink(o.via, o.token);
  const timeoutMs = o.timeoutMs ?? 5000;
  try {
    return await new Promise<AgentInfo[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TimeoutError(`monitor ${o.via} did not list its agents within ${timeoutMs} ms`)),
        timeoutMs,
      );
      link.on('fatal', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      link.on('connected', () => {
        link.send({ v: PROTOCOL_VERSION, type: 'subscribe', intervalMs: 60_000 });
        link.send({ v: PROTOCOL_VERSION, type: 'agents-list' });
      });
      link.on('message', (m: HubMessage) => {
        if (m.type === 'error') {
          clearTimeout(timer);
          reject(errorOf(m.code, m.message));
        } else if (m.type === 'agents') {
          clearTimeout(timer);
          resolve(m.agents);
        }
      });
    });
  } finally {
    await link.close(500);
  }
}

/** The exit rule of a fan-out: a partial run (an agent lost or refused) exits 1; otherwise the usual rule. */
export function fanOutOutcome(r: LoadReport): RunOutcome {
  if (r.outcome === 'partial') {
    const missing = (r.agents ?? []).filter((a) => a.outcome !== 'complete');
    return {
      code: 1,
      message: `partial run: ${missing.map((a) => `${a.name} ${a.outcome}`).join(', ')}; the report counts their last totals`,
    };
  }
  return runOutcome(r);
}

/** One line per agent under the report: share, outcome, and its own latency. */
export function formatAgents(r: LoadReport): string {
  const rows = (r.agents ?? []).map(
    (a) =>
      `  ${a.name.padEnd(16)} ${a.host.name.padEnd(20)} ${a.outcome.padEnd(8)} ${String(a.requests.ok).padStart(9)} ok ${String(a.connections.opened).padStart(6)} conn ${String(Object.values(a.errors).reduce((x, y) => x + y, 0)).padStart(6)} err  p99 ${a.latencyMs.p99} ms`,
  );
  return rows.length === 0 ? '' : `agents (${r.outcome ?? 'complete'}):\n${rows.join('\n')}\n`;
}
