import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ReportSchema } from '@kalab/core';
import { afterEach, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kalab(
  args: string[],
  onSpawn?: (kill: (sig: NodeJS.Signals) => void, stderr: () => string) => void,
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, 'loadgen', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    onSpawn?.(
      (sig) => child.kill(sig),
      () => stderr,
    );
  });
}

let server: Server | null = null;
let connections = 0;
async function startServer(): Promise<string> {
  connections = 0;
  server = createServer((_req, res) => res.end('Hello world'));
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('kalab loadgen', () => {
  it.each([
    [['not a url'], /URL must be a URL/],
    [['http://127.0.0.1:9/', '-c', '0'], /^kalab: -c must be/m],
    [['http://127.0.0.1:9/', '-d', 'abc'], /^kalab: -d must be a duration/m],
    [['http://127.0.0.1:9/', '--engine', 'curl'], /^kalab: --engine must be one of undici, http, h2c/m],
    [['http://127.0.0.1:9/', '-n', '-5'], /^kalab: -n must be/m],
    [['http://127.0.0.1:9/', '--local-address', 'nope'], /^kalab: --local-address must list IP addresses/m],
    [['http://127.0.0.1:9/', '--timeout', 'soon'], /^kalab: --timeout must be a duration/m],
    [['http://127.0.0.1:9/', '--timeout', '0'], /^kalab: --timeout must be a duration from 1ms/m],
  ])('bad input %j exits 2 naming the flag', async (args, message) => {
    const r = await kalab(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--json prints a kalab.report/v1 as the last line of stdout, counts matching the server', async () => {
    const url = await startServer();
    const r = await kalab([url, '-c', '4', '-n', '2000', '--json']);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.requests.ok).toBe(2000);
    expect(report.connections.opened).toBe(4);
    expect(connections).toBe(4);
    // Not a terminal: no progress lines.
    expect(r.stderr).toBe('');
  });

  it('-n 5 --timeout 500ms against a server that accepts and never answers: ends by itself, 5 x ETIMEDOUT', async () => {
    // Accepts TCP and never writes a byte: without --timeout a run bounded by -n alone would wait forever.
    const sockets = new Set<Socket>();
    const silent = createNetServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
      s.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      const started = Date.now();
      const r = await kalab([url, '-n', '5', '--timeout', '500ms', '--json']);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.code).toBe(0);
      const report = ReportSchema.parse(lastJson(r.stdout));
      expect(report.requests.failed).toBe(5);
      expect(report.requests.completed).toBe(0);
      expect(report.errors).toEqual({ ETIMEDOUT: 5 });
      expect(report.config['timeoutMs']).toBe(500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('prints the text report by default', async () => {
    const url = await startServer();
    const r = await kalab([url, '-c', '2', '-n', '200', '--engine', 'http']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^requests +200 completed/m);
    expect(r.stdout).toMatch(/^connections +2 opened/m);
  });

  it('nothing listening: exit 3, ECONNREFUSED counted in the report', async () => {
    const url = await startServer();
    server!.close();
    server = null;
    const r = await kalab([url, '-c', '2', '-d', '20s', '--json']);
    expect(r.code).toBe(3);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.errors['ECONNREFUSED']).toBeGreaterThan(0);
    expect(report.connections.opened).toBe(0);
    expect(r.stderr).toMatch(/could not be reached \(ECONNREFUSED\)/);
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v script']).status !== 0)(
    'prints one progress line a second on stderr when it is a terminal',
    async () => {
      const url = await startServer();
      // util-linux script gives the CLI a pseudo-terminal; stdout (the report) goes to /dev/null.
      // Asynchronously: the test server lives in this process and must keep answering.
      const out = await new Promise<string>((resolve) => {
        const child = spawn(
          'script',
          ['-qec', `"${process.execPath}" "${KALAB}" loadgen ${url} -c 2 -d 2500ms -w 1 >/dev/null`, '/dev/null'],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        );
        let text = '';
        child.stdout.on('data', (d) => {
          text += d;
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('exit', () => {
          clearTimeout(timer);
          resolve(text);
        });
      });
      const lines = out.split(/\r?\n/).filter((l) => /req\/s/.test(l));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.some((l) => !/ 0 req\/s/.test(l))).toBe(true);
      for (const l of lines) expect(l).toMatch(/^ +\d+ s +[\d,]+ req\/s +\d+ open +[\d,]+ new conn\/s +\d+ errors$/);
    },
  );

  it('SIGINT stops the run early and still prints the report', async () => {
    const url = await startServer();
    const started = Date.now();
    const r = await kalab([url, '-c', '2', '-d', '30s', '--json'], (kill) => {
      // Give it time to start its workers and send a few requests.
      const poll = setInterval(() => {
        if (connections >= 2) {
          clearInterval(poll);
          setTimeout(() => kill('SIGINT'), 300);
        }
      }, 20);
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.stoppedEarly).toBe('signal');
    expect(report.requests.completed).toBeGreaterThan(0);
  });
});
