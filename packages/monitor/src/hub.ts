import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { AuthError, ErrorCodes, isKalabError, ProtocolError, UnreachableError, UnsupportedError } from '@kalab/core';
import {
  decodeMessage,
  envelope,
  MAX_MESSAGE_BYTES,
  type RunStart,
  SourceMessageSchema,
  ViewerMessageSchema,
} from '@kalab/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import type { Aggregator } from './aggregator.js';
import type { ResolvedMonitorOptions } from './defaults.js';
import { FanOut } from './fan-out.js';
import { acceptHello } from './hello.js';
import { type HubStats, zeroHubStats, zeroPeers } from './hub-stats.js';
import { newPeer, type Peer } from './peer.js';
import { dispatchRun, stopRun } from './run-dispatch.js';

/**
 * The ws side of the monitor: handshake, validation, heartbeats, fan-out of snapshots.
 * Bad input from the network is data: one bad peer is closed (1008, or 1009 when too big),
 * counted, and everything else goes on.
 */
export class Hub {
  private readonly wss: WebSocketServer;
  private readonly peers = new Map<string, Peer>();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly stats = zeroHubStats();
  private readonly fanOut = new FanOut(
    () => this.peers.values(),
    (p, m) => this.send(p, m),
  );

  constructor(
    server: Server,
    private readonly o: ResolvedMonitorOptions,
    private readonly agg: Aggregator,
    /** The current snapshot as JSON text (cached by the caller). */
    private readonly snapshotText: () => string,
    /** A peer refused for a reason its operator should hear about on the monitor's side too (another lab version). */
    private readonly warn: (err: Error) => void = () => {},
  ) {
    this.wss = new WebSocketServer({
      server,
      path: '/ws',
      maxPayload: MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.wss.on('error', () => {}); // the http server reports listen errors
    this.heartbeat = setInterval(() => this.beat(), o.heartbeatMs);
    this.heartbeat.unref();
  }

  getStats(): HubStats {
    const peers = zeroPeers();
    for (const p of this.peers.values()) peers[p.role ?? 'pending']++;
    return { ...this.stats, peers, rejected: { ...this.stats.rejected } };
  }

  /** Sends a run-start to an agent: the one named, else the first idle connected one. */
  startRun(
    options: RunStart['options'],
    agentName?: string,
    runId: string = randomUUID(),
  ): { runId: string; agent: string } {
    return dispatchRun(this.peers.values(), (p, m) => this.send(p, m), options, runId, agentName);
  }

  stopRun(runId: string): boolean {
    return stopRun(this.peers.values(), (p, m) => this.send(p, m), runId);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.fanOut.close();
    for (const p of this.peers.values()) {
      clearTimeout(p.helloTimer);
      clearInterval(p.snapshotTimer);
      p.closing = true;
      p.ws.close(1001, 'monitor shutting down');
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const p of this.peers.values()) p.ws.terminate();
        resolve();
      }, 500);
      t.unref();
      const check = () => {
        if (this.peers.size === 0) {
          clearTimeout(t);
          resolve();
        } else setTimeout(check, 10).unref();
      };
      check();
    });
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    if (this.peers.size >= this.o.maxPeers) {
      this.stats.rejected.full++;
      ws.close(1013, 'too many peers');
      return;
    }
    this.stats.accepted++;
    const peer = newPeer(ws, remote);
    this.peers.set(peer.id, peer);
    peer.helloTimer = setTimeout(() => {
      this.stats.rejected.helloTimeout++;
      this.reject(peer, new ProtocolError(`no hello within ${this.o.helloTimeoutMs} ms`));
    }, this.o.helloTimeoutMs);
    peer.helloTimer.unref();
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(peer, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws already closes the socket with the right status (1009 for maxPayload, 1002/1007 for bad frames).
      if (peer.closing) return;
      peer.closing = true;
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.stats.rejected.tooLarge++;
      else this.stats.rejected.protocol++;
    });
    ws.on('close', (code: number) => this.onClose(peer, code));
  }

  private onMessage(peer: Peer, data: Buffer, isBinary: boolean): void {
    if (peer.closing) return;
    peer.alive = true;
    try {
      if (isBinary) throw new ProtocolError('binary frames are not part of the protocol');
      if (!peer.role) this.onHello(peer, data);
      else if (peer.role === 'viewer') this.onViewerMessage(peer, data);
      else this.onSourceMessage(peer, data);
    } catch (err) {
      const e =
        err instanceof ProtocolError || err instanceof AuthError || err instanceof UnsupportedError
          ? err
          : new ProtocolError(`bad message: ${(err as Error).message}`);
      if (e.code === ErrorCodes.AUTH) this.stats.rejected.auth++;
      else this.stats.rejected.protocol++;
      if (e instanceof UnsupportedError) this.warn(new UnsupportedError(`refused ${peer.remote}: ${e.message}`));
      this.reject(peer, e);
    }
  }

  private onHello(peer: Peer, data: Buffer): void {
    const { hello, mayControl } = acceptHello(data, this.o.token);
    peer.mayControl = mayControl;
    clearTimeout(peer.helloTimer);
    peer.helloTimer = undefined;
    if (hello.role !== 'viewer') {
      const source = this.agg.attach(hello.role, hello.name, hello.host, peer.id);
      if (!source) {
        this.stats.rejected.full++;
        this.reject(peer, new ProtocolError('too many sources'), 1013);
        return;
      }
      peer.source = source;
    }
    if (hello.role === 'agent')
      peer.agent = { version: hello.version, cores: hello.cores ?? null, caps: hello.caps ?? null };
    peer.role = hello.role;
    this.send(
      peer,
      envelope({
        type: 'welcome' as const,
        id: peer.source?.id ?? peer.id,
        heartbeatMs: this.o.heartbeatMs,
        serverTime: Date.now(),
      }),
    );
    if (hello.role === 'viewer') this.schedule(peer, this.o.snapshotIntervalMs);
  }

  private onSourceMessage(peer: Peer, data: Buffer): void {
    const msg = decodeMessage(SourceMessageSchema, data);
    const source = peer.source!;
    if (source.peerId !== peer.id) throw new ProtocolError('another connection now speaks for this source');
    this.stats.messages++;
    switch (msg.type) {
      case 'tick':
        try {
          this.agg.onTick(source, msg);
        } catch (err) {
          throw new ProtocolError(`invalid tick: ${(err as Error).message}`);
        }
        this.fanOut.onTick(peer, msg);
        break;
      case 'clock-pong':
        this.fanOut.onClockPong(peer, msg);
        break;
      case 'run-ready':
        this.fanOut.onRunReady(peer, msg.runId);
        break;
      case 'conn-events':
        this.agg.onConnEvents(source, msg.events);
        break;
      case 'tcp-sample':
        source.lastSeen = Date.now();
        this.agg.onTcpSample(source.id, msg);
        break;
      case 'run-started':
        this.agg.onRunStarted(source, msg);
        break;
      case 'run-report':
        try {
          this.agg.onRunReport(source, msg.runId, msg.report);
        } catch (err) {
          throw new ProtocolError(`invalid run-report: ${(err as Error).message}`);
        }
        this.fanOut.onRunReport(peer, msg.runId, msg.report);
        break;
      case 'run-refused':
        this.agg.onRunRefused(source, msg.runId, msg.code, msg.message);
        this.fanOut.onRunRefused(peer, msg.runId, msg.message);
        break;
    }
  }

  private onViewerMessage(peer: Peer, data: Buffer): void {
    const msg = decodeMessage(ViewerMessageSchema, data);
    this.stats.messages++;
    if (msg.type === 'subscribe') {
      this.schedule(peer, msg.intervalMs ?? this.o.snapshotIntervalMs);
      this.sendSnapshot(peer);
      return;
    }
    if (!peer.mayControl) throw new AuthError(`${msg.type} needs the monitor's token; this viewer can only read`);
    if (msg.type === 'agents-list') {
      this.send(peer, envelope({ type: 'agents' as const, agents: this.fanOut.list() }));
    } else if (msg.type === 'run-start' || msg.type === 'fanout-start') {
      try {
        if (msg.type === 'fanout-start') this.fanOut.start(peer, msg);
        else this.startRun(msg.options, undefined, msg.runId);
      } catch (err) {
        // Not the viewer's fault: tell it and keep the connection.
        this.sendError(peer, isKalabError(err) ? err : new UnreachableError((err as Error).message));
      }
    } else if (!this.fanOut.stop(msg.runId) && !this.stopRun(msg.runId)) {
      this.send(
        peer,
        envelope({ type: 'error' as const, code: ErrorCodes.PROTOCOL, message: `no running run "${msg.runId}"` }),
      );
    }
  }

  private schedule(peer: Peer, intervalMs: number): void {
    clearInterval(peer.snapshotTimer);
    peer.snapshotTimer = setInterval(() => this.sendSnapshot(peer), intervalMs);
    peer.snapshotTimer.unref();
  }

  /** A viewer that has not drained what it was sent skips this one: it gets the latest later, never a queue. */
  private sendSnapshot(peer: Peer): void {
    if (peer.ws.readyState !== WebSocket.OPEN) return;
    if (peer.ws.bufferedAmount > this.o.viewerBufferBytes) {
      this.stats.snapshotsSkipped++;
      return;
    }
    this.stats.snapshotsSent++;
    peer.ws.send(this.snapshotText());
  }

  /** Tells a peer what went wrong with its request and keeps the connection. */
  private sendError(peer: Peer, err: Error & { code: string }): void {
    this.send(peer, envelope({ type: 'error' as const, code: err.code, message: err.message.slice(0, 1000) }));
  }

  private send(peer: Peer, msg: object): void {
    if (peer.ws.readyState === WebSocket.OPEN) peer.ws.send(JSON.stringify(msg));
  }

  /** Closes a peer after telling it why: 1008 (policy) unless a ProtocolError names another status. */
  private reject(
    peer: Peer,
    err: ProtocolError | AuthError | UnsupportedError,
    closeCode = err instanceof ProtocolError ? err.closeCode : 1008,
  ): void {
    if (peer.closing) return;
    peer.closing = true;
    clearTimeout(peer.helloTimer);
    if (peer.ws.readyState !== WebSocket.OPEN) return;
    this.send(peer, envelope({ type: 'error' as const, code: err.code, message: err.message.slice(0, 1000) }));
    peer.ws.close(closeCode, err.message.slice(0, 120));
    // A peer that never answers the close handshake must not hold its socket.
    setTimeout(() => peer.ws.terminate(), 2000).unref();
  }

  /** Ping everyone; a peer that did not answer the previous ping is dropped (its source is marked lost). */
  private beat(): void {
    for (const p of this.peers.values()) {
      if (!p.alive) {
        this.stats.rejected.heartbeat++;
        p.heartbeatLost = true;
        p.closing = true;
        p.ws.terminate();
        continue;
      }
      p.alive = false;
      if (p.ws.readyState === WebSocket.OPEN) p.ws.ping();
    }
  }

  private onClose(peer: Peer, code: number): void {
    clearTimeout(peer.helloTimer);
    clearInterval(peer.snapshotTimer);
    this.peers.delete(peer.id);
    this.fanOut.onPeerClosed(peer);
    // 1006: the socket died without a close frame (a crash, kill -9, a cut cable): lost.
    if (peer.source) this.agg.detach(peer.source, peer.id, peer.heartbeatLost || code === 1006);
  }
}
