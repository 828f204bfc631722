import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION, type RunOptions } from '@kalab/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

/** A bare hub on a real loopback socket: says welcome, records what the agent sends, sends run commands. */
export class TinyHub {
  readonly wss: WebSocketServer;
  readonly received: Record<string, unknown>[] = [];
  ws: WebSocket | undefined;
  private waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] =
    [];

  /** Resolves once the port is bound (`url` needs it). */
  readonly listening: Promise<void>;

  constructor() {
    this.wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
    this.listening = new Promise((r) => this.wss.once('listening', () => r()));
    this.wss.on('connection', (ws) => {
      this.ws = ws;
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString()) as Record<string, unknown>;
        if (m['type'] === 'hello')
          ws.send(
            JSON.stringify({
              v: PROTOCOL_VERSION,
              type: 'welcome',
              id: 'a1',
              heartbeatMs: 1000,
              serverTime: Date.now(),
            }),
          );
        this.received.push(m);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(m)) return true;
          w.resolve(m);
          return false;
        });
      });
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/ws`;
  }

  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no such message from the agent')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  start(options: RunOptions, runId = randomUUID()): string {
    this.ws!.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'run-start', runId, options }));
    return runId;
  }

  /** Any hub → agent message, with the protocol version stamped in. */
  send(msg: Record<string, unknown>): void {
    this.ws!.send(JSON.stringify({ v: PROTOCOL_VERSION, ...msg }));
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}
