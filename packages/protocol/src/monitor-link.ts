import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { AuthError, ErrorCodes, type KalabError, LAB_VERSION, UnreachableError, UnsupportedError } from '@kalab/core';
import WebSocket from 'ws';
import {
  decodeMessage,
  type Hello,
  type HubMessage,
  HubMessageSchema,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  type Role,
  type Welcome,
} from './protocol.js';

export interface MonitorLinkOptions {
  /** ws://host:port/ws of the monitor. */
  url: string;
  token?: string;
  role: Role;
  /** The source's name in the monitor (defaults to role@host). */
  name?: string;
  /** The host name this source reports for its TCP samples (defaults to os.hostname()). */
  host?: string;
  /** Messages kept while disconnected; the oldest are dropped beyond it. */
  maxQueue?: number;
  /** Reconnect backoff: first delay and cap, in ms (doubles with jitter). */
  backoffMs?: { initial: number; max: number };
  /** Gives up (emits 'fatal') after this many failed attempts in a row; default: never. */
  maxAttempts?: number;
  /** What an agent can do, sent in its hello (cores, caps). */
  capabilities?: Pick<Hello, 'cores' | 'caps'>;
}

export interface MonitorLinkEvents {
  connected: [Welcome];
  disconnected: [{ code: number; reason: string }];
  message: [HubMessage];
  error: [Error];
  fatal: [KalabError];
}

/**
 * The ws client every source (server, loadgen, agent) and viewer uses to talk to a monitor:
 * hello handshake, bounded queue while disconnected, reconnect with backoff, dead-hub
 * detection from the heartbeat the hub announces in its welcome.
 */
export class MonitorLink extends EventEmitter<MonitorLinkEvents> {
  readonly options: Required<Omit<MonitorLinkOptions, 'token' | 'maxAttempts' | 'capabilities'>> &
    Pick<MonitorLinkOptions, 'token' | 'maxAttempts' | 'capabilities'>;
  private ws: WebSocket | undefined;
  private queue: string[] = [];
  private ready = false;
  private closing = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 0;
  /** Messages dropped because the queue was full while disconnected. */
  dropped = 0;

  constructor(options: MonitorLinkOptions) {
    super();
    const host = options.host ?? hostname();
    this.options = {
      url: options.url,
      token: options.token,
      role: options.role,
      host,
      name: options.name ?? `${options.role}@${host}`,
      maxQueue: options.maxQueue ?? 1000,
      backoffMs: options.backoffMs ?? { initial: 200, max: 5000 },
      maxAttempts: options.maxAttempts,
      capabilities: options.capabilities,
    };
  }

  /** True once the hub has answered the hello with a welcome. */
  get connected(): boolean {
    return this.ready;
  }

  start(): this {
    this.closing = false;
    this.connect();
    return this;
  }

  /** Sends a message now, or queues it until the link is (re)connected. */
  send(msg: object): void {
    const text = JSON.stringify(msg);
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(text);
      return;
    }
    if (this.queue.length >= this.options.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(text);
  }

  /** Resolves when the link is connected (or rejects after `timeoutMs`). */
  waitConnected(timeoutMs = 5000): Promise<Welcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new UnreachableError(`monitor ${this.options.url} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = (w: Welcome) => {
        clearTimeout(timer);
        resolve(w);
      };
      this.once('connected', onConnected);
    });
  }

  /** Resolves when everything sent so far has left the socket buffer (bounded by timeoutMs). */
  async drain(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ws && this.ws.readyState === WebSocket.OPEN && this.ws.bufferedAmount > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Flushes what it can (bounded), then closes for good. */
  async close(timeoutMs = 1000): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.deadTimer);
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) await this.drain(timeoutMs);
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, timeoutMs);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'bye');
    });
  }

  private connect(): void {
    const ws = new WebSocket(this.options.url, { maxPayload: MAX_MESSAGE_BYTES, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      const hello = {
        v: PROTOCOL_VERSION,
        type: 'hello',
        role: this.options.role,
        name: this.options.name,
        host: this.options.host,
        version: LAB_VERSION,
        pid: process.pid,
        ...this.options.capabilities,
        ...(this.options.token ? { token: this.options.token } : {}),
      };
      ws.send(JSON.stringify(hello));
    });
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('ping', () => this.armDeadTimer());
    ws.on('error', (err) => this.emit('error', err));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  private onMessage(data: Buffer): void {
    let msg: HubMessage;
    try {
      msg = decodeMessage(HubMessageSchema, data);
    } catch (err) {
      this.emit('error', err as Error);
      return;
    }
    if (msg.type === 'welcome') {
      this.ready = true;
      this.attempts = 0;
      this.heartbeatMs = msg.heartbeatMs;
      this.armDeadTimer();
      const pending = this.queue;
      this.queue = [];
      for (const text of pending) this.ws?.send(text);
      this.emit('connected', msg);
      return;
    }
    if (msg.type === 'error' && msg.code === ErrorCodes.AUTH) {
      // A wrong token will not become right by retrying.
      this.closing = true;
      this.emit('fatal', new AuthError(`monitor refused the hello: ${msg.message}`));
    } else if (msg.type === 'error' && msg.code === ErrorCodes.UNSUPPORTED && !this.ready) {
      // Neither will another lab version (the hub refuses an agent whose version differs from its own).
      this.closing = true;
      this.emit('fatal', new UnsupportedError(`monitor refused the hello: ${msg.message}`));
    }
    this.emit('message', msg);
  }

  /** A hub that stops pinging for two heartbeats is gone: drop the socket and reconnect. */
  private armDeadTimer(): void {
    clearTimeout(this.deadTimer);
    if (this.heartbeatMs > 0) {
      this.deadTimer = setTimeout(() => this.ws?.terminate(), this.heartbeatMs * 2 + 500);
      this.deadTimer.unref();
    }
  }

  private onClose(code: number, reason: string): void {
    const wasReady = this.ready;
    this.ready = false;
    clearTimeout(this.deadTimer);
    if (wasReady) this.emit('disconnected', { code, reason });
    if (this.closing) return;
    this.attempts++;
    if (this.options.maxAttempts !== undefined && this.attempts >= this.options.maxAttempts) {
      this.closing = true;
      this.emit(
        'fatal',
        new UnreachableError(`monitor ${this.options.url} unreachable after ${this.attempts} attempts`),
      );
      return;
    }
    const { initial, max } = this.options.backoffMs;
    const base = Math.min(max, initial * 2 ** Math.min(this.attempts - 1, 16));
    const delay = base / 2 + Math.random() * (base / 2);
    // Not unref'd: an agent waiting for its monitor must stay alive; close() ends it.
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
