import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMonitor } from '@kalab/monitor';
import { ReportSchema } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand, missing } from '../../../test/support/needs.js';

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
    [['http://127.0.0.1:9/', '--engine', 'curl'], /^kalab: --engine must be one of undici, http, h2, h2c, net/m],
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
      // Not one request succeeded although connections were made: exit 1.
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^kalab: no request to .* succeeded: 5 failed over \d+ connections? \(ETIMEDOUT 5\)$/m);
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

  it('--help says which engine runs by default, and the report names it', async () => {
    const help = await kalab(['--help']);
    // commander wraps the help to the terminal's width.
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /--engine <name> net \(default: lean raw-socket HTTP\/1\.1\) \| undici \| http/,
    );
    const url = await startServer();
    const r = await kalab([url, '-c', '2', '-n', '20']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kalab loadgen http:\S+ +engine net \(net \(lean keep-alive engine\)\)$/m);
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
    expect(r.stderr).toMatch(/^kalab: http:.* could not be reached \(ECONNREFUSED \d+\)$/m);
  });

  it.skipIf(missing('script (util-linux)', hasCommand('script')))(
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
      // Each line names the engine that runs (net, the default).
      for (const l of lines) expect(l).toMatch(/^net +\d+ s +[\d,]+ req\/s +\d+ open +[\d,]+ new conn\/s +\d+ errors$/);
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

/** A loopback TCP server that does `onSocket` with each connection, closed after the test. */
async function rawServer(onSocket: (s: Socket) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

describe('kalab loadgen: regressions', () => {
  it('--engine http --no-keepalive -c 2 -n 100 opens 100 connections, each request saying Connection: close', async () => {
    const headers = new Map<string, number>();
    server = createServer((req, res) => {
      const h = req.headers.connection ?? '(none)';
      headers.set(h, (headers.get(h) ?? 0) + 1);
      res.end('Hello world');
    });
    connections = 0;
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const r = await kalab([url, '--engine', 'http', '--no-keepalive', '-c', '2', '-n', '100', '--json']);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.engine).toBe('http');
    expect(report.requests.ok).toBe(100);
    expect(report.connections.opened).toBe(100);
    expect(report.connections.reusedRequests).toBe(0);
    // The server's own count, not only the report's.
    expect(connections).toBe(100);
    expect(Object.fromEntries(headers)).toEqual({ close: 100 });
  });

  it('the report names the engine that ran: --engine undici --no-keepalive is the churn engine', async () => {
    const url = await startServer();
    const r = await kalab([url, '--engine', 'undici', '--no-keepalive', '-c', '2', '-n', '20', '--json']);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.engine).toBe('churn');
    expect(report.connections.opened).toBe(20);
    expect(connections).toBe(20);
    const text = await kalab([url, '--no-keepalive', '-c', '2', '-n', '20']);
    expect(text.stdout).toMatch(/engine churn \(net \(lean churn engine\)\)/);
  });

  it.each([
    [['-d', '999h'], '-d must be a duration from 1ms to 2147483647ms (~24.8 days), got "999h"'],
    [['-d', '1e309s'], '-d must be a duration like 500ms, 10s or 2m (a plain number is seconds), got "1e309s"'],
    [['--timeout', '99999h'], '--timeout must be a duration from 1ms to 1h, got "99999h"'],
    [
      ['--local-address', '127.0.0.1,::1'],
      '--local-address "::1" is IPv6 but the target 127.0.0.1 is IPv4: every source address must be IPv4',
    ],
    [
      ['--local-address', '::1'],
      '--local-address "::1" is IPv6 but the target 127.0.0.1 is IPv4: every source address must be IPv4',
    ],
  ])('%j exits 2 with one line quoting what was typed', async (args, message) => {
    const r = await kalab(['http://127.0.0.1:9/', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kalab: ${message}\n`);
  });

  it.each([
    [['--bogus'], "unknown option '--bogus' (see kalab loadgen --help)"],
    [['--conections', '2'], "unknown option '--conections' (Did you mean --connections?) (see kalab loadgen --help)"],
    [['-c'], "option '-c, --connections <n>' argument missing (see kalab loadgen --help)"],
  ])('commander usage error %j is one kalab: line with its hint, exit 2', async (args, message) => {
    const r = await kalab(['http://127.0.0.1:9/', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kalab: ${message}\n`);
  });

  it('-n 10 with the default -c 10 does not blame the server or the client for 1 request per connection', async () => {
    const url = await startServer();
    const r = await kalab([url, '-n', '10', '--json']);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.connections.opened).toBe(10);
    expect(report.findings).toEqual([]);
  });

  it.each([
    ['resets every connection', (s: Socket) => s.once('data', () => s.resetAndDestroy()), 'ECONNRESET'],
    ['answers garbage', (s: Socket) => s.once('data', () => s.end('garbage\r\n\r\n')), null],
  ])('a server that %s: no request ok, exit 1 with one line, no reuse counted', async (_what, onSocket, code) => {
    const srv = await rawServer(onSocket);
    try {
      const r = await kalab([srv.url, '-c', '2', '-n', '10', '--json']);
      expect(r.code).toBe(1);
      const report = ReportSchema.parse(lastJson(r.stdout));
      expect(report.requests.ok).toBe(0);
      expect(report.requests.failed).toBe(10);
      expect(report.connections.reusedRequests).toBe(0);
      if (code) expect(report.errors[code]).toBe(10);
      expect(r.stderr).toMatch(
        /^kalab: no request to http:\/\/127\.0\.0\.1:\d+\/ succeeded: 10 failed over \d+ connections/,
      );
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });

  it('h2c against an HTTP/1.1-only server: exit 1, and no request counted as reused', async () => {
    const url = await startServer();
    const r = await kalab([url, '--engine', 'h2c', '-n', '10', '--json']);
    expect(r.code).toBe(1);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.requests.ok).toBe(0);
    expect(report.requests.failed).toBe(10);
    expect(report.connections.reusedRequests).toBe(0);
  });

  it('--monitor that cannot be reached: said on stderr while the run goes on, exit 3', async () => {
    const url = await startServer();
    let seenAtMs: number | null = null;
    const started = Date.now();
    const r = await kalab([url, '-c', '1', '-d', '3s', '--monitor', 'ws://127.0.0.1:1/ws', '--json'], (_kill, err) => {
      const poll = setInterval(() => {
        if (/monitor ws:\/\/127\.0\.0\.1:1\/ws: cannot connect \(ECONNREFUSED\)/.test(err())) {
          seenAtMs = Date.now() - started;
          clearInterval(poll);
        }
      }, 20);
      setTimeout(() => clearInterval(poll), 30_000);
    });
    expect(r.code).toBe(3);
    // Said at once (before the 3 s run could end), not only at exit.
    expect(seenAtMs).not.toBeNull();
    expect(seenAtMs!).toBeLessThan(2500);
    const report = ReportSchema.parse(lastJson(r.stdout));
    expect(report.requests.ok).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^kalab: the report did not reach the monitor ws:\/\/127\.0\.0\.1:1\/ws$/m);
  });

  it('--monitor with a wrong --token: the refusal is said on stderr, exit 3', async () => {
    const url = await startServer();
    const monitor = await createMonitor({ port: 0, token: 'right-token', sampleLocalTcp: false });
    try {
      const r = await kalab([url, '-c', '1', '-n', '20', '--monitor', monitor.url, '--token', 'wrong', '--json']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^kalab: monitor ws:.*: monitor refused the hello: .*; the run goes on without it$/m);
      expect(ReportSchema.parse(lastJson(r.stdout)).requests.ok).toBe(20);
    } finally {
      await monitor.close();
    }
  });
});
