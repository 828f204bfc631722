import { CounterRate, type SampleTcpOptions, sampleTcp, type TcpSample } from '@kalab/core';
import { type ConnectionEvent, MAX_EVENTS_PER_MESSAGE, MonitorLink, PROTOCOL_VERSION } from '@kalab/protocol';
import { channels } from './channels.js';
import type { ConnectionLedger, ConnectionRecord } from './connection-ledger.js';
import { REPORTER_DEFAULTS } from './defaults.js';

export interface MonitorReporterOptions {
  ledger: ConnectionLedger;
  /** ws://host:port/ws of the monitor. */
  url: string;
  token?: string;
  /** The source's name in the monitor (default `server@HOST:PORT`). */
  name?: string;
  /** The host name reported with TCP samples (default os.hostname()). */
  host?: string;
  /** The server's port: the TCP sample counts the sockets on it. */
  port: number;
  flushIntervalMs?: number;
  tickIntervalMs?: number;
  sampleIntervalMs?: number;
  /** Overrides the TCP sampler (tests); null turns samples off. Default: core's sampleTcp. */
  sampleTcp?: ((options: SampleTcpOptions) => Promise<TcpSample>) | null;
}

type SampleTcp = NonNullable<MonitorReporterOptions['sampleTcp']>;
type ChannelMessage = { ledger: ConnectionLedger; connection: ConnectionRecord };

/**
 * Publishes a server's ledger to a monitor over ws (through core's MonitorLink, which owns
 * the hello, the reconnects and the bounded queue): connection events batched at most 1000
 * a message about 4 times a second, a tick and a TCP sample of the server's port each second.
 * It listens on the ledger's diagnostics channels, so the request path does not change.
 */
export class MonitorReporter {
  readonly link: MonitorLink;
  /** Events dropped because more than maxPendingEvents piled up between flushes. */
  droppedEvents = 0;
  private pending: ConnectionEvent[] = [];
  private seq = 0;
  private readonly startedAt = Date.now();
  private readonly rps = new CounterRate();
  private readonly newConn = new CounterRate();
  private readonly handshakes = new CounterRate();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sampleTcp: SampleTcp | null;
  private sampling = false;
  private started = false;

  constructor(private readonly options: MonitorReporterOptions) {
    this.link = new MonitorLink({
      url: options.url,
      token: options.token,
      role: 'server',
      name: options.name ?? `server@${options.port}`,
      host: options.host,
    });
    this.sampleTcp = options.sampleTcp === undefined ? sampleTcp : options.sampleTcp;
    // A failing monitor must never take the server down: errors are reported, not thrown.
    this.link.on('error', () => {});
  }

  private readonly onOpen = (message: unknown): void => {
    const { ledger, connection: c } = message as ChannelMessage;
    if (ledger !== this.options.ledger) return;
    this.push({ kind: 'open', id: c.id, at: c.openedAt, remote: c.remote, local: c.local, protocol: c.protocol });
  };

  private readonly onClose = (message: unknown): void => {
    const { ledger, connection: c } = message as ChannelMessage;
    if (ledger !== this.options.ledger) return;
    this.push({
      kind: 'close',
      id: c.id,
      at: c.closedAt ?? Date.now(),
      remote: c.remote,
      local: c.local,
      requests: c.requests,
      reason: c.closedBy ?? 'client',
      protocol: c.protocol,
    });
  };

  private push(event: ConnectionEvent): void {
    if (this.pending.length >= REPORTER_DEFAULTS.maxPendingEvents) {
      this.pending.shift();
      this.droppedEvents++;
    }
    this.pending.push(event);
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    channels.connectionOpen.subscribe(this.onOpen);
    channels.connectionClose.subscribe(this.onClose);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.flushIntervalMs ?? REPORTER_DEFAULTS.flushIntervalMs, () => this.flush());
    every(this.options.tickIntervalMs ?? REPORTER_DEFAULTS.tickIntervalMs, () => this.tick());
    if (this.sampleTcp)
      every(this.options.sampleIntervalMs ?? REPORTER_DEFAULTS.sampleIntervalMs, () => void this.sample());
    this.link.start();
    return this;
  }

  /** Sends pending connection events, at most 1000 per message. */
  flush(): void {
    while (this.pending.length > 0) {
      const events = this.pending.splice(0, MAX_EVENTS_PER_MESSAGE);
      this.link.send({ v: PROTOCOL_VERSION, type: 'conn-events', events });
    }
  }

  tick(): void {
    const l = this.options.ledger;
    const now = Date.now();
    // Serving TLS: the handshakes the server completed and how many resumed a session (the
    // ledger's /_kalab/stats `tls`), so the monitor and the dashboard show the server's side.
    const tls = l.tls;
    this.link.send({
      v: PROTOCOL_VERSION,
      type: 'tick',
      seq: this.seq++,
      at: now,
      elapsedMs: now - this.startedAt,
      totals: {
        requests: l.requests,
        connectionsOpened: l.opened,
        connectionsClosed: l.closed,
        ...(tls ? { tlsHandshakes: tls.handshakes, tlsResumed: tls.resumed } : {}),
      },
      rates: {
        rps: round(this.rps.update(l.requests)),
        newConnPerSec: round(this.newConn.update(l.opened)),
        ...(tls ? { handshakesPerSec: round(this.handshakes.update(tls.handshakes)) } : {}),
      },
      openConnections: l.openCount,
      errors: { ...l.errors },
      closedBy: { ...l.closedBy },
    });
  }

  private async sample(): Promise<void> {
    if (!this.sampleTcp || this.sampling) return;
    this.sampling = true;
    try {
      // Both sides of the port: the server's accepted sockets and, on one host, its clients'.
      const sample = await this.sampleTcp({
        host: this.link.options.host,
        port: this.options.port,
        side: 'either',
        maxSockets: REPORTER_DEFAULTS.maxSampleSockets,
      });
      this.link.send(sample);
    } catch {
      // No /proc (macOS) or a transient read error: the tick still goes out.
    } finally {
      this.sampling = false;
    }
  }

  /** Sends what is pending and a last tick, then closes the link (bounded). */
  async close(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.started) {
      channels.connectionOpen.unsubscribe(this.onOpen);
      channels.connectionClose.unsubscribe(this.onClose);
      this.flush();
      this.tick();
    }
    await this.link.close();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
