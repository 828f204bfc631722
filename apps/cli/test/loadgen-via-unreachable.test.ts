import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KALAB, runKalab } from './helpers/run-kalab.js';

const kalab = (args: string[]) => runKalab(args);

/**
 * `loadgen --via` at something that is not a reachable monitor: six endpoints, each with
 * --agents 1 and --list-agents. Every one is exit 3 with one line naming the monitor URL
 * and the cause (each used to end in exit 70 and a stack trace).
 */
describe('kalab loadgen --via an unreachable or wrong ws endpoint', () => {
  let http: Server;
  let silent: TcpServer;
  let monitor: ChildProcess;
  const held = new Set<Socket>();
  let httpPort = 0;
  let silentPort = 0;
  let monitorPort = 0;

  beforeAll(async () => {
    http = createHttpServer((_req, res) => res.end('not a monitor'));
    silent = createTcpServer((socket) => {
      held.add(socket); // accepts and never answers
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    httpPort = (http.address() as AddressInfo).port;
    silentPort = (silent.address() as AddressInfo).port;
    monitor = spawn(process.execPath, [KALAB, 'monitor', '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    monitorPort = await new Promise<number>((resolve) => {
      let out = '';
      monitor.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\/ws/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
  });
  afterAll(async () => {
    monitor?.kill('SIGTERM');
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    for (const socket of held) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('12 cases: exit 3, one line naming the monitor and why', { timeout: 60_000 }, async () => {
    const endpoints: Array<[string, RegExp]> = [
      ['ws://127.0.0.1:1/ws', /: ECONNREFUSED$/],
      ['ws://[::1]:1/ws', /: (ECONNREFUSED|EADDRNOTAVAIL)$/],
      [`ws://127.0.0.1:${httpPort}/ws`, /: it answered HTTP 200 instead of a WebSocket upgrade/],
      [`ws://127.0.0.1:${silentPort}/ws`, /: no WebSocket handshake within 5(000 m)? ?s: is it a kalab monitor\?$/],
      [`ws://127.0.0.1:${monitorPort}/not-ws`, /: it answered HTTP \d{3} instead of a WebSocket upgrade/],
      [`wss://127.0.0.1:${httpPort}/ws`, /: no TLS there \(wss:\/\/ to a plain port\?\): try ws:\/\/$/],
    ];
    const cases = endpoints.flatMap(([via, why]) =>
      [['--agents', '1'], ['--list-agents']].map((mode) => ({ via, why, mode })),
    );
    const results = await Promise.all(
      cases.map((c) => kalab(['loadgen', `http://127.0.0.1:${httpPort}/`, '-n', '1', '--via', c.via, ...c.mode])),
    );
    cases.forEach((c, i) => {
      const r = results[i]!;
      const what = `--via ${c.via} ${c.mode.join(' ')}: ${r.stderr}`;
      expect(r.code, what).toBe(3);
      const lines = r.stderr.trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toContain(`kalab: cannot reach monitor ${c.via}`);
      expect(lines[0], what).toMatch(c.why);
    });
  });
});
