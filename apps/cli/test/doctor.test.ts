import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

function kalab(args: string[]): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, wallMs: performance.now() - started }));
  });
}

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** `kalab server ...` as a child process; resolves with the URL it prints. */
async function labServer(args: string[]): Promise<{ url: string; h2cUrl?: string }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [KALAB, 'server', '--host', '127.0.0.1', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  cleanup.push(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const wantH2c = args.includes('--h2c-port');
      const h2cUrl = /h2c listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url && (!wantH2c || h2cUrl)) resolve({ url, h2cUrl });
    });
    child.once('exit', (code) => reject(new Error(`kalab server exited with ${code}: ${err}`)));
  });
}

async function nodeServer(keepAliveTimeout: number): Promise<string> {
  const server = http.createServer((_req, res) => res.end('Hello world'));
  server.keepAliveTimeout = keepAliveTimeout;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

describe('kalab doctor', () => {
  it('measures `kalab server --keep-alive-timeout 2000` at 2 s ±10% and prints the docs/doctor.md JSON', async () => {
    const { url } = await labServer(['--keep-alive-timeout', '2000']);
    const [json, table] = await Promise.all([
      kalab(['doctor', url, '--json', '--budget', '20s']),
      kalab(['doctor', url, '--budget', '20s']),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(Object.keys(out)).toEqual([
      'target',
      'keepAlive',
      'advertisedKeepAlive',
      'idleTimeoutMs',
      'maxRequestsPerConnection',
      'pipelining',
      'http2',
      'tls',
      'recommendations',
    ]);
    expect(out.target).toBe(new URL(url).href);
    expect(out.keepAlive).toBe(true);
    expect(out.advertisedKeepAlive).toBe('timeout=2');
    expect(Math.abs(out.idleTimeoutMs - 2_000), `measured ${out.idleTimeoutMs} ms`).toBeLessThanOrEqual(200);
    expect(out.maxRequestsPerConnection).toBeNull();
    expect(out.pipelining).toBe(true);
    expect(out.http2).toEqual({ h2c: false, alpn: null });
    const safe = Number(/keepAliveTimeout: (\d+)/.exec(out.recommendations.join('\n'))?.[1]);
    expect(safe).toBeGreaterThanOrEqual(800);
    expect(safe).toBeLessThanOrEqual(1_200);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/idle timeout\s+\d+ ms \(FIN/);
    expect(table.stdout).toMatch(/Recommendations/);
  });

  it('reports Connection: close and max requests of `kalab server --close`', async () => {
    const { url } = await labServer(['--close']);
    const run = await kalab(['doctor', url, '--json', '--budget', '5s']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      keepAlive: false,
      idleTimeoutMs: null,
      maxRequestsPerConnection: 1,
      pipelining: false,
    });
  });

  it('reports none found for a server without an idle timeout and finishes within --budget 5s', async () => {
    const url = await nodeServer(0);
    const run = await kalab(['doctor', url, '--json', '--budget', '5s']);
    expect(run.code, run.stderr).toBe(0);
    // The budget covers the whole command, node's start-up included; exiting adds a little.
    expect(run.wallMs).toBeLessThan(5_500);
    const out = JSON.parse(run.stdout);
    expect(out.keepAlive).toBe(true);
    expect(out.idleTimeoutMs).toBeNull();
    expect(out.recommendations.join('\n')).toMatch(/No idle close within/);
  });

  it('exits 2 naming the argument for a bad URL, and naming --budget for a bad budget', async () => {
    const [badUrl, badScheme, badBudget] = await Promise.all([
      kalab(['doctor', 'not a url']),
      kalab(['doctor', 'ftp://127.0.0.1/']),
      kalab(['doctor', 'http://127.0.0.1:1/', '--budget', 'soon']),
    ]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/^kalab: URL must be a URL/);
    expect(badScheme.code).toBe(2);
    expect(badScheme.stderr).toMatch(/URL must use http: or https:/);
    expect(badBudget.code).toBe(2);
    expect(badBudget.stderr).toMatch(/--budget must be/);
  });

  it('gives up on a server that accepts and never answers after the 10 s step docs/doctor.md states (was 13 s)', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          silent.close(() => resolve());
        }),
    );
    const port = (silent.address() as net.AddressInfo).port;
    const run = await kalab(['doctor', `http://127.0.0.1:${port}/`]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^kalab: no HTTP response from 127\.0\.0\.1:\d+ within 10\d{3} ms: it accepted the connection and sent nothing\n$/,
    );
    // 10 s step + node start-up; tolerance 1.5 s for a busy machine (the bug took 13 s).
    expect(run.wallMs).toBeGreaterThanOrEqual(10_000);
    expect(run.wallMs).toBeLessThan(11_500);
  });

  it('says in one line that https:// on a plain-HTTP port did not answer TLS (exit 3, no OpenSSL source path)', async () => {
    const url = (await nodeServer(5_000)).replace('http:', 'https:');
    const run = await kalab(['doctor', url]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `kalab: cannot reach 127.0.0.1:${new URL(url).port}: the server did not answer TLS: is it plain HTTP?\n`,
    );
  });

  it('exits 3 when nothing listens on the target port', async () => {
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const run = await kalab(['doctor', `http://127.0.0.1:${port}/`, '--json']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
    expect(run.stdout).toBe('');
  });
});
