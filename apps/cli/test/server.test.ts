import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMonitor } from '@kalab/monitor';
import { afterEach, describe, expect, it, vi } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function kalab(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Resolves with the URLs printed on the `listening on` lines. */
async function listening(run: Running, lines = 1): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const urls = [...run.stdout().matchAll(/listening on (http:\/\/\S+)/g)].map((m) => m[1]!);
    if (urls.length >= lines) return urls;
    if (run.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no listening line: ${run.stdout()} ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function get(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('kalab server', () => {
  it('prints listening on http://HOST:PORT, serves Hello world, and on SIGINT closes idle connections and prints the ledger', async () => {
    const run = kalab(['server', '--port', '0', '--keep-alive-timeout', '10s']);
    const [url] = await listening(run);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const agent = new http.Agent({ keepAlive: true });
    expect(await get(`${url}/`, agent)).toBe('Hello world');
    expect(await get(`${url}/`, agent)).toBe('Hello world');
    const stats = JSON.parse(await get(`${url}/_kalab/stats`, agent));
    expect(stats).toMatchObject({ connections: { opened: 1, open: 1 }, requests: { total: 3 } });
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    agent.destroy();
    expect(run.stdout()).toContain(
      'ledger: 1 connection opened, 0 open, 1 closed; 3 requests (3 per connection, max 3)',
    );
    expect(run.stdout()).toContain('closed by: client 0, idleTimeout 0, maxRequests 0, error 0, server 1');
  });

  it('also prints the h2c listener, and SIGTERM works too', async () => {
    const run = kalab([
      'server',
      '--port',
      '0',
      '--h2c-port',
      '0',
      '--max-requests-per-socket',
      '5',
      '--delay-us',
      '50',
      '--close',
    ]);
    const urls = await listening(run, 2);
    expect(run.stdout()).toMatch(
      /^listening on http:\/\/127\.0\.0\.1:\d+\nh2c listening on http:\/\/127\.0\.0\.1:\d+\n/,
    );
    expect(urls[0]).not.toBe(urls[1]);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('ledger: 0 connections opened');
  });

  it('--monitor publishes the ledger to a monitor (hello with the token, ticks with the requests)', async () => {
    const monitor = await createMonitor({ port: 0, token: 'sekret' });
    try {
      const run = kalab(['server', '--port', '0', '--monitor', monitor.url, '--token', 'sekret']);
      const [url] = await listening(run);
      const agent = new http.Agent({ keepAlive: false });
      for (let i = 0; i < 3; i++) expect(await get(`${url}/`, agent)).toBe('Hello world');
      const deadline = Date.now() + 15_000;
      let source: { role: string; totals: { requests: number; connectionsOpened: number } } | undefined;
      while (Date.now() < deadline) {
        source = monitor.snapshot().sources.find((s) => s.role === 'server' && s.totals.requests >= 3);
        if (source) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(source?.totals).toMatchObject({ requests: 3, connectionsOpened: 3 });
      expect(run.stderr()).toContain(`monitor ${monitor.url} connected`);
      run.child.kill('SIGINT');
      expect(await run.exit).toBe(0);
    } finally {
      await monitor.close();
    }
  });

  it.each([
    [['--port', '70000'], '--port'],
    [['--keep-alive-timeout', 'soon'], '--keep-alive-timeout'],
    [['--headers-timeout', '10s', '--request-timeout', '5s'], '--headers-timeout'],
    [['--max-requests-per-socket', '-1'], '--max-requests-per-socket'],
    [['--delay-us', '1.5'], '--delay-us'],
    [['--body-bytes', 'lots'], '--body-bytes'],
    [['--h2c-port', 'x'], '--h2c-port'],
    [['--monitor', 'http://127.0.0.1:7070/ws'], '--monitor'],
    [['--token', 't'], '--token'],
    [['--host', 'no such host!'], '--host'],
  ])('bad input %j exits 2 naming %s', async (args, flag) => {
    const run = kalab(['server', '--port', '0', ...args]);
    expect(await run.exit).toBe(2);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(flag);
  });

  it.each([
    [
      ['--keep-alive-timeout', '999h'],
      '--keep-alive-timeout must be a duration from 0ms to 2147483647ms (~24.8 days), got "999h"',
    ],
    [
      ['--headers-timeout', '99999h'],
      '--headers-timeout must be a duration from 0ms to 2147483647ms (~24.8 days), got "99999h"',
    ],
    [['--delay-us', '60000001'], '--delay-us must be an integer from 0 to 60000000, got "60000001"'],
    [['--body-bytes', '67108865'], '--body-bytes must be an integer from 0 to 67108864, got "67108865"'],
    [
      ['--headers-timeout', '10s', '--request-timeout', '5s'],
      '--headers-timeout must be <= --request-timeout (5000 ms), got 10000 ms',
    ],
    [['--h2c-port', '9000', '--port', '9000'], '--h2c-port must differ from --port (9000)'],
  ])('%j: the limit comes from @kalab/server, the message from the flag and what was typed', async (args, message) => {
    const run = kalab(['server', '--port', '0', ...args]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toBe(`kalab: ${message}\n`);
  });

  it('--monitor that cannot be reached is said on stderr at once, once; the server serves anyway', async () => {
    const run = kalab(['server', '--port', '0', '--monitor', 'ws://127.0.0.1:1/ws']);
    const [url] = await listening(run);
    await vi.waitFor(
      () => expect(run.stderr()).toContain('kalab: monitor ws://127.0.0.1:1/ws: cannot connect (ECONNREFUSED)'),
      {
        timeout: 5000,
      },
    );
    expect(await get(`${url}/`, new http.Agent())).toBe('Hello world');
    // Retries with backoff do not repeat the same line.
    await new Promise((r) => setTimeout(r, 1000));
    expect(run.stderr().match(/cannot connect/g)).toHaveLength(1);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('a port in use exits 3 with a clear message', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const run = kalab(['server', '--port', String(port)]);
      expect(await run.exit).toBe(3);
      expect(run.stderr()).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(run.stderr()).toContain('address already in use');
    } finally {
      blocker.close();
    }
  });
});
