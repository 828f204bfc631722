import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleTcp, type TcpSample, UnreachableError } from '@kalab/core';
import type { RunStart, Snapshot } from '@kalab/protocol';
import { Aggregator, type RunState } from './aggregator.js';
import { portOf } from './connection-table.js';
import {
  type LocalSampler,
  MONITOR_DEFAULTS,
  type MonitorOptionNames,
  type MonitorOptions,
  type ResolvedMonitorOptions,
  resolveMonitorOptions,
} from './defaults.js';
import { Hub } from './hub.js';
import type { HubStats } from './hub-stats.js';
import { renderMetrics } from './prometheus.js';
import { RunRecorder } from './recorder.js';

export interface MonitorEvents {
  'run-started': [RunState];
  'run-ended': [RunState, string | undefined];
  /** A non-fatal problem (a failed local TCP sample, a failed recording write). */
  warning: [Error];
}

export interface Monitor extends EventEmitter<MonitorEvents> {
  readonly options: ResolvedMonitorOptions;
  /** The token peers must present (generated when a non-loopback bind had none). */
  readonly token: string | undefined;
  /** `ws://host:port/ws` */
  readonly url: string;
  /** `http://host:port` */
  readonly httpUrl: string;
  readonly port: number;
  snapshot(): Snapshot;
  stats(): HubStats;
  /** Asks an agent (the named one, else the first idle one) to run; resolves with the run id. */
  startRun(options: RunStart['options'], agent?: string): { runId: string; agent: string };
  stopRun(runId: string): boolean;
  /** The file a run was recorded to, when recording. */
  recordingFor(runId: string): string | undefined;
  close(): Promise<void>;
}

/** The monitor's own host: every socket, a bounded sample of rows for the connections table. */
async function defaultSampler(host: string, port?: number): Promise<TcpSample> {
  if (port === undefined) return sampleTcp({ host, maxSockets: 200 });
  // Counts over every socket; rows of the run's port, so a busy host does not crowd them out.
  const [all, rows] = await Promise.all([
    sampleTcp({ host, maxSockets: 0 }),
    sampleTcp({ host, port, maxSockets: 200 }),
  ]);
  return rows.sockets ? { ...all, sockets: rows.sockets } : all;
}

class MonitorImpl extends EventEmitter<MonitorEvents> implements Monitor {
  readonly options: ResolvedMonitorOptions;
  private readonly server: Server;
  private readonly agg: Aggregator;
  private hub!: Hub;
  private readonly recorder: RunRecorder | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private sampling = false;
  private readonly sampler: LocalSampler | undefined;
  private cached: { at: number; text: string } | undefined;
  private closed = false;

  constructor(o: ResolvedMonitorOptions) {
    super();
    this.options = o;
    this.agg = new Aggregator({
      historySize: o.historySize,
      maxSources: o.maxSources,
      maxHosts: o.maxHosts,
      maxRuns: MONITOR_DEFAULTS.maxRuns,
      maxConnectionRows: MONITOR_DEFAULTS.maxConnectionRows,
      sampleFreshMs: Math.max(3 * o.tickMs, 3000),
      snapshotHistory: Math.min(o.historySize, 120),
    });
    this.sampler = o.sampleLocalTcp === false ? undefined : (o.sampleLocalTcp ?? defaultSampler);
    this.recorder = o.recordDir ? new RunRecorder(o.recordDir, o.hostName, o.names.recordDir) : undefined;
    this.agg.on('run-started', (run) => {
      this.recorder?.start(run);
      this.emit('run-started', run);
    });
    this.agg.on('run-ended', (run) => {
      if (this.recorder) {
        this.recorder.end(run, this.agg.snapshot());
        this.checkRecorder();
      }
      this.emit('run-ended', run, this.recorder?.fileFor(run.id));
    });
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  get token(): string | undefined {
    return this.options.token;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private get hostForUrl(): string {
    const h = this.options.host;
    const shown = h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '::1' : h;
    return shown.includes(':') ? `[${shown}]` : shown;
  }

  get url(): string {
    return `ws://${this.hostForUrl}:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://${this.hostForUrl}:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new UnreachableError(
            `monitor cannot listen on ${this.options.host}:${this.options.port}: ${err.code ?? err.message}`,
            { cause: err },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.hub = new Hub(
      this.server,
      this.options,
      this.agg,
      () => this.snapshotText(),
      (err) => this.emit('warning', err),
    );
    this.tickTimer = setInterval(() => this.tick(), this.options.tickMs);
    this.tickTimer.unref();
    this.tick();
  }

  snapshot(): Snapshot {
    return this.agg.snapshot();
  }

  stats(): HubStats {
    return this.hub.getStats();
  }

  startRun(options: RunStart['options'], agent?: string) {
    return this.hub.startRun(options, agent);
  }

  stopRun(runId: string): boolean {
    return this.hub.stopRun(runId);
  }

  recordingFor(runId: string): string | undefined {
    return this.recorder?.fileFor(runId);
  }

  /** Viewers at the same instant share one serialisation. */
  private snapshotText(): string {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= 20)
      this.cached = { at: now, text: JSON.stringify(this.agg.snapshot()) };
    return this.cached.text;
  }

  private tick(): void {
    if (this.closed) return;
    this.agg.tick();
    if (this.recorder?.recording) {
      this.recorder.tick(this.agg.snapshot(), this.agg.runs.values());
      this.checkRecorder();
    }
    if (this.sampler && !this.sampling) {
      this.sampling = true;
      this.sampler(this.options.hostName, this.targetPort())
        .then((s) => {
          if (!this.closed) this.agg.onTcpSample('monitor', s);
        })
        .catch((err: Error) => this.emit('warning', err))
        .finally(() => {
          this.sampling = false;
        });
    }
  }

  /** The port the current run aims at, when its target is known. */
  private targetPort(): number | undefined {
    const port = portOf(this.agg.currentRun()?.target);
    return port === undefined ? undefined : Number(port);
  }

  private recorderErrors = 0;
  private checkRecorder(): void {
    const r = this.recorder;
    if (r && r.errors > this.recorderErrors) {
      this.recorderErrors = r.errors;
      this.emit('warning', r.lastError ?? new Error('recording failed'));
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
        return;
      case '/api/snapshot': {
        const { rss, heapUsed } = process.memoryUsage();
        const body = JSON.stringify({
          ...this.agg.snapshot(),
          hub: { ...this.hub.getStats(), process: { rss, heapUsed } },
        });
        res
          .writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
          .end(body);
        return;
      }
      case '/metrics': {
        const { latency, connect } = this.agg.mergedCounters();
        const text = renderMetrics({ snapshot: this.agg.snapshot(), hub: this.hub.getStats(), latency, connect });
        res
          .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' })
          .end(text);
        return;
      }
      default:
        res
          .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
          .end('not found: try /api/snapshot, /metrics, /healthz or ws /ws\n');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    await this.hub?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/**
 * Starts a monitor: ws hub on `/ws`, `/api/snapshot`, `/metrics` and `/healthz` on the same
 * port. Binds 127.0.0.1 unless told otherwise; a non-loopback bind without a token gets a
 * generated one (read it from `monitor.token`).
 */
export async function createMonitor(options: MonitorOptions = {}, names: MonitorOptionNames = {}): Promise<Monitor> {
  const m = new MonitorImpl(resolveMonitorOptions(options, names));
  await m.listen();
  return m;
}
