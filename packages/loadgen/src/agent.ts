import { EventEmitter } from 'node:events';
import { availableParallelism, hostname } from 'node:os';
import {
  BadOptionError,
  ErrorCodes,
  isKalabError,
  type KalabError,
  parseDuration,
  parseInteger,
  sampleTcp,
} from '@kalab/core';
import {
  type AgentCapsWire,
  bodyBytesOf,
  bodyCapViolation,
  capViolation,
  formatTargetSpec,
  type HubMessage,
  MonitorLink,
  PROTOCOL_VERSION,
  parseTargetSpec,
  type ResolvedCaps,
  type RunOptions,
} from '@kalab/protocol';
import type { LoadReport } from './build-report.js';
import { DEFAULTS, LIMITS } from './defaults.js';
import { resolveOptions } from './options.js';
import { LoadRun, runStartedMessage } from './run-load.js';

/**
 * What an agent allows whatever a monitor asks. Enforced by the agent itself, so a monitor
 * (or whoever holds its token) cannot turn an agent into a flood against arbitrary hosts.
 */
export interface AgentCaps {
  /** Refuse runs asking for more connections (default 1000). */
  maxConnections?: number;
  /** Refuse runs asking for longer; stop any run at this bound (default 60 s). */
  maxDurationMs?: number;
  /**
   * `HOST` or `HOST:PORT` targets allowed. Default: loopback only (the lab's invariant: a load
   * run never aims at a non-loopback address unless the user typed it — here, on the agent).
   */
  allowTargets?: string[];
  /** Refuse runs whose request body (-b / --body-file) is larger (default 64 KiB; at most LIMITS.bodyBytes). */
  maxBodyBytes?: number;
}

export const AGENT_DEFAULTS = {
  maxConnections: 1000,
  maxDurationMs: 60_000,
  /** Between runs the agent still samples its host, so the monitor sees TIME_WAIT drain. */
  idleSampleMs: 1000,
  /** A held fan-out slice whose run-go has not come by then stops (reported as stoppedEarly 'no-go'). */
  maxHoldMs: 60_000,
  /** `--max-body-bytes`: a monitor may not make this agent send larger request bodies. */
  maxBodyBytes: 64 * 1024,
} as const;

export interface AgentOptions {
  /** ws://HOST:PORT/ws of the monitor. */
  monitor: string;
  token?: string;
  name?: string;
  /** Host name reported to the monitor (default os.hostname()). */
  host?: string;
  caps?: AgentCaps;
  /** MonitorLink reconnect backoff. */
  backoffMs?: { initial: number; max: number };
}

export interface AgentEvents {
  connected: [];
  disconnected: [{ code: number; reason: string }];
  /** A run the agent accepted and started. */
  'run-start': [{ runId: string; options: RunOptions }];
  'run-refused': [{ runId: string; code: string; message: string }];
  /** A run ended: the same report the monitor gets, whether or not the monitor is still there. */
  report: [{ runId: string; report: LoadReport }];
  /** The monitor refused the token: retrying cannot help. */
  fatal: [KalabError];
  /** The link failed (monitor unreachable, connection dropped); it retries with backoff. */
  'link-error': [Error];
}

/** Validates caps once, at the boundary. */
export function resolveCaps(caps: AgentCaps = {}): ResolvedCaps & { maxBodyBytes: number } {
  return {
    maxConnections: parseInteger('--max-connections', caps.maxConnections ?? AGENT_DEFAULTS.maxConnections, 1, 100_000),
    maxDurationMs: parseInteger('--max-duration', caps.maxDurationMs ?? AGENT_DEFAULTS.maxDurationMs, 1, 86_400_000),
    allowTargets: caps.allowTargets === undefined ? null : caps.allowTargets.map(parseTargetSpec),
    maxBodyBytes: parseInteger(
      '--max-body-bytes',
      caps.maxBodyBytes ?? AGENT_DEFAULTS.maxBodyBytes,
      0,
      LIMITS.bodyBytes.max,
    ),
  };
}

/** `--max-connections`, `--max-duration`, `--allow-target` strings → caps (messages name the flag). */
export function agentCapsFromFlags(f: {
  maxConnections?: string;
  maxDuration?: string;
  allowTarget?: string;
  maxBodyBytes?: string;
}): AgentCaps {
  const caps: AgentCaps = {};
  if (f.maxBodyBytes !== undefined)
    caps.maxBodyBytes = parseInteger('--max-body-bytes', f.maxBodyBytes, 0, LIMITS.bodyBytes.max);
  if (f.maxConnections !== undefined)
    caps.maxConnections = parseInteger('--max-connections', f.maxConnections, 1, 100_000);
  if (f.maxDuration !== undefined) {
    // The range in parseDuration, so the message quotes what was typed (a typed value comes back as typed).
    caps.maxDurationMs = Math.round(parseDuration('--max-duration', f.maxDuration, 's', { min: 1, max: 86_400_000 }));
  }
  if (f.allowTarget !== undefined) {
    caps.allowTargets = f.allowTarget
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    caps.allowTargets.forEach(parseTargetSpec);
  }
  return caps;
}

/**
 * Why a run breaks the caps, or null when it fits: core's capViolation, the check the monitor
 * makes too before a fan-out (the body cap included: the hello announces it). `maxBodyBytes`
 * overrides the caps' own body cap.
 */
export function checkCaps(options: RunOptions, caps: ResolvedCaps, maxBodyBytes?: number): string | null {
  const body = bodyCapViolation(bodyBytesOf(options), { maxBodyBytes: maxBodyBytes ?? caps.maxBodyBytes });
  if (body) return body;
  return capViolation({ ...options, connections: options.connections ?? DEFAULTS.connections }, caps);
}

/** The caps as the hello announces them, so a monitor can split a fan-out within them (and refuse a body up front). */
export function capsForHello(caps: ResolvedCaps): AgentCapsWire {
  return {
    maxConnections: caps.maxConnections,
    maxDurationMs: caps.maxDurationMs,
    allowTargets: caps.allowTargets === null ? null : caps.allowTargets.map(formatTargetSpec),
    ...(caps.maxBodyBytes !== undefined ? { maxBodyBytes: caps.maxBodyBytes } : {}),
  };
}

/**
 * A loadgen agent: connects to a monitor, waits for run-start, checks it against its own
 * caps, runs it, and streams run-started, ticks, TCP samples and the run-report. The link
 * reconnects with backoff; a run outlives its monitor and its report is still emitted
 * locally (and delivered if the monitor comes back).
 */
export class Agent extends EventEmitter<AgentEvents> {
  readonly link: MonitorLink;
  readonly caps: ResolvedCaps & { maxBodyBytes: number };
  /** --max-body-bytes (announced in the hello, so a monitor refuses a larger body before any agent starts). */
  readonly maxBodyBytes: number;
  private current: LoadRun | undefined;
  private capTimer: NodeJS.Timeout | undefined;
  /** Opens a held run's gate (run-go). */
  private go: ((startAt: number) => void) | undefined;
  /** Resolves once the current run's report (or failure) has been handled. */
  private settled: Promise<void> = Promise.resolve();
  private closed = false;
  private sampler: NodeJS.Timeout | undefined;
  private sampling = false;
  readonly host: string;

  constructor(readonly options: AgentOptions) {
    super();
    this.caps = resolveCaps(options.caps);
    this.maxBodyBytes = this.caps.maxBodyBytes;
    const host = (options.host ?? hostname()).slice(0, 128) || 'localhost';
    this.host = host;
    this.link = new MonitorLink({
      url: options.monitor,
      token: options.token,
      role: 'agent',
      host,
      name: options.name ?? `agent@${host}`,
      capabilities: { cores: availableParallelism(), caps: capsForHello(this.caps) },
      ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
    });
    // Connection errors are retried; 'fatal' reports the hopeless ones.
    this.link.on('error', (err) => this.emit('link-error', err));
    this.link.on('connected', () => this.emit('connected'));
    this.link.on('disconnected', (d) => this.emit('disconnected', d));
    this.link.on('fatal', (err) => this.emit('fatal', err));
    this.link.on('message', (m) => this.onMessage(m));
  }

  /** The run in progress, if any. */
  get running(): LoadRun | undefined {
    return this.current;
  }

  start(): this {
    this.link.start();
    this.sampler = setInterval(() => {
      if (!this.current && this.link.connected) void this.sendSample();
    }, AGENT_DEFAULTS.idleSampleMs);
    this.sampler.unref();
    return this;
  }

  /** One sample of this host's TCP table, stamped with the agent's host name. */
  private async sendSample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      this.link.send(await sampleTcp({ host: this.host, maxSockets: 0 }));
    } catch {
      // No /proc and no netstat: the monitor simply shows no TCP states for this host.
    } finally {
      this.sampling = false;
    }
  }

  /** Stops a run in progress (its report still follows), then closes the link. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    const run = this.current;
    if (run) {
      run.stop('signal');
      await this.settled;
    }
    await this.link.close(2000);
  }

  private onMessage(m: HubMessage): void {
    if (m.type === 'clock-ping')
      this.link.send({ v: PROTOCOL_VERSION, type: 'clock-pong', id: m.id, t0: m.t0, at: Date.now() });
    else if (m.type === 'run-start') this.onRunStart(m.runId, m.options, m.hold === true);
    else if (m.type === 'run-go' && this.current?.runId === m.runId) this.go?.(m.startAt);
    else if (m.type === 'run-stop' && this.current?.runId === m.runId) this.current.stop('stopped');
  }

  private refuse(runId: string, code: string, message: string): void {
    this.link.send({ v: PROTOCOL_VERSION, type: 'run-refused', runId, code, message: message.slice(0, 1000) });
    this.emit('run-refused', { runId, code, message });
  }

  private onRunStart(runId: string, options: RunOptions, hold: boolean): void {
    if (this.closed) return;
    if (this.current) {
      this.refuse(runId, ErrorCodes.BUSY, `this agent is busy with run ${this.current.runId}`);
      return;
    }
    const why = checkCaps(options, this.caps);
    if (why) {
      this.refuse(runId, ErrorCodes.CAP_EXCEEDED, why);
      return;
    }
    let run: LoadRun;
    try {
      const resolved = resolveOptions({ ...options });
      // A fan-out slice: workers get ready now, say so, and go at the instant run-go names.
      const gate = hold ? new Promise<number>((resolve) => (this.go = resolve)) : undefined;
      run = new LoadRun(resolved, runId, undefined, gate);
    } catch (err) {
      this.refuse(runId, isKalabError(err) ? err.code : ErrorCodes.BAD_OPTION, (err as Error).message);
      return;
    }
    this.current = run;
    this.emit('run-start', { runId, options });
    // A count-bounded run still ends by the duration cap; a held one counts from its go.
    const cap = () => {
      clearTimeout(this.capTimer);
      this.capTimer = setTimeout(() => run.stop('max-duration'), this.caps.maxDurationMs);
    };
    if (hold) {
      this.capTimer = setTimeout(() => run.stop('no-go'), AGENT_DEFAULTS.maxHoldMs);
      run.once('ready', () => this.link.send({ v: PROTOCOL_VERSION, type: 'run-ready', runId }));
      run.once('start', cap);
    } else cap();
    run.on('start', (s) => this.link.send(runStartedMessage({ ...s, runId }, options.scenario)));
    run.on('tick', (t) => this.link.send(t));
    run.on('tcp-sample', (s) => this.link.send({ ...s, host: this.host }));
    this.settled = run.result.then(
      async (report) => {
        // The TIME_WAIT the run left behind, even when it ended within its first tick.
        await this.sendSample();
        this.link.send({ v: PROTOCOL_VERSION, type: 'run-report', runId, report });
        this.finish();
        this.emit('report', { runId, report });
      },
      (err: Error) => {
        this.finish();
        this.refuse(runId, isKalabError(err) ? err.code : ErrorCodes.UNREACHABLE, `the run failed: ${err.message}`);
      },
    );
  }

  private finish(): void {
    clearTimeout(this.capTimer);
    this.current = undefined;
    this.go = undefined;
  }
}

/** Starts an agent (see Agent). */
export function runAgent(options: AgentOptions): Agent {
  if (typeof options?.monitor !== 'string' || !/^wss?:\/\//.test(options.monitor)) {
    throw new BadOptionError(
      '--monitor',
      `--monitor must be a ws:// URL like ws://127.0.0.1:7070/ws, got "${String(options?.monitor)}"`,
    );
  }
  return new Agent(options).start();
}
