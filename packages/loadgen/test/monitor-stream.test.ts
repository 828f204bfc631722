import type { AddressInfo } from 'node:net';
import { decodeMessage, HelloSchema, PROTOCOL_VERSION, SourceMessageSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runLoad, streamToMonitor } from '../src/index.js';
import { type CountingServer, startCountingServer } from './helpers/counting-server.js';

let wss: WebSocketServer | null = null;
let server: CountingServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
  if (wss) for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
  wss = null;
});

describe('streamToMonitor', () => {
  it('streams run-started, ticks and the run-report, every message valid against core schemas', async () => {
    const received: { type: string }[] = [];
    const hellos: unknown[] = [];
    const invalid: string[] = [];
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws) => {
      let first = true;
      ws.on('message', (data: Buffer) => {
        try {
          if (first) {
            first = false;
            hellos.push(decodeMessage(HelloSchema, data));
            ws.send(
              JSON.stringify({
                v: PROTOCOL_VERSION,
                type: 'welcome',
                id: 'src-1',
                heartbeatMs: 5000,
                serverTime: Date.now(),
              }),
            );
            return;
          }
          received.push(decodeMessage(SourceMessageSchema, data));
        } catch (err) {
          invalid.push(String(err));
        }
      });
    });
    await new Promise<void>((r) => wss!.once('listening', () => r()));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    server = await startCountingServer();
    const run = runLoad({ target: server.url, connections: 2, durationMs: 1500, workers: 1, tickMs: 300 });
    const streamed = streamToMonitor(run, { url, token: 'secret', name: 'lg-test' });
    const report = await run.result;
    await streamed;
    expect(invalid).toEqual([]);
    expect(hellos).toEqual([expect.objectContaining({ role: 'agent', name: 'lg-test', token: 'secret' })]);
    const types = received.map((m) => m.type);
    expect(types[0]).toBe('run-started');
    expect(types.filter((t) => t === 'tick').length).toBeGreaterThanOrEqual(3);
    expect(types.at(-1)).toBe('run-report');
    const last = received.at(-1) as unknown as { runId: string; report: { requests: { completed: number } } };
    expect(last.runId).toBe(run.runId);
    expect(last.report.requests.completed).toBe(report.requests.completed);
  });

  it('a monitor that is down does not hold the run up', async () => {
    server = await startCountingServer();
    const run = runLoad({ target: server.url, connections: 1, requests: 100, workers: 1 });
    const started = Date.now();
    const streamed = streamToMonitor(run, { url: 'ws://127.0.0.1:9/ws', flushMs: 500 });
    const report = await run.result;
    await streamed;
    expect(report.requests.ok).toBe(100);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
