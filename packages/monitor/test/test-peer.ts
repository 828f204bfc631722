import { LAB_VERSION } from '@kalab/core';
import { PROTOCOL_VERSION } from '@kalab/protocol';
import WebSocket from 'ws';

/** A raw protocol speaker for tests: a source, an agent or a viewer without MonitorLink's politeness. */
export class TestPeer {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] =
    [];

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...options });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      this.messages.push(m);
      if (this.messages.length > 500) this.messages.shift();
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(
    url: string,
    hello: Partial<Record<string, unknown>> & { role: string },
    options?: WebSocket.ClientOptions,
  ): Promise<TestPeer> {
    const p = new TestPeer(url, options);
    await p.opened;
    const welcome = p.next((m) => m['type'] === 'welcome' || m['type'] === 'error');
    p.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      name: `${hello.role}-test`,
      host: 'test-host',
      version: LAB_VERSION,
      ...hello,
    });
    const m = await welcome;
    if (m['type'] !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(m)}`);
    return p;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

export const V = PROTOCOL_VERSION;

export function tick(
  seq: number,
  totals: { requests: number; connectionsOpened: number },
  extra: Record<string, unknown> = {},
) {
  return {
    v: V,
    type: 'tick',
    seq,
    at: Date.now(),
    elapsedMs: seq * 1000,
    totals,
    rates: { rps: 100, newConnPerSec: 10 },
    openConnections: 3,
    errors: {},
    ...extra,
  };
}

export function report(target: string, sent: number, opened: number, extra: Record<string, unknown> = {}) {
  return {
    schema: 'kalab.report/v1',
    target,
    engine: 'undici',
    config: { connections: 1, keepAlive: false },
    durationMs: 1000,
    requests: { sent, completed: sent, ok: sent, non2xx: 0, failed: 0 },
    connections: {
      opened,
      reusedRequests: sent - opened,
      maxOpen: 1,
      requestsPerConnection: opened ? sent / opened : 0,
    },
    errors: {},
    latencyMs: { mean: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1 },
    connectMs: { mean: 0.1, p50: 0.1, p99: 0.1, max: 0.1 },
    throughput: { rps: sent },
    host: { ephemeralRange: [32768, 60999], timeWaitPeak: opened },
    findings: [],
    ...extra,
  };
}

export function tcpSample(host: string, states: Record<string, number>, extra: Record<string, unknown> = {}) {
  return { v: V, type: 'tcp-sample', host, at: Date.now(), states, ...extra };
}

/** Resolves when `pred` holds, polling (for state that has no event). */
export async function until<T>(
  fn: () => T | Promise<T>,
  pred: (v: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
