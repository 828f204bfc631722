import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DoctorProbe, doctorJson, formatDoctor, probeKeepAlive } from '../src/index.js';

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        (server as http.Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${portOf(server)}/`;
}

/** A plain node:http server answering `Hello world`. */
function nodeServer(setup: (s: http.Server) => void, handler?: http.RequestListener): Promise<string> {
  const server = http.createServer(handler ?? ((_req, res) => res.end('Hello world')));
  setup(server);
  return listen(server);
}

/** A raw server: one fixed response per request, then `after(socket)`. */
function rawServer(after: (socket: net.Socket) => void): Promise<string> {
  const server = net.createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let at = pending.indexOf('\r\n\r\n');
      while (at >= 0) {
        pending = pending.slice(at + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello world');
        after(socket);
        at = pending.indexOf('\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  return listen(server);
}

/** A raw server that answers the first request with `response` and closes. */
function answerOnceServer(response: string): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(response));
  });
  return listen(server);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = portOf(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function within(actual: number | null, expected: number, fraction: number): void {
  expect(actual, `expected ${expected} ms ±${fraction * 100}%`).not.toBeNull();
  expect(
    Math.abs(actual! - expected),
    `measured ${actual} ms, expected ${expected} ms ±${fraction * 100}%`,
  ).toBeLessThanOrEqual(expected * fraction);
}

function expectContract(p: DoctorProbe): void {
  expect(Object.keys(doctorJson(p))).toEqual([
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
  expect(p.observations.maxOpenConnections).toBeLessThanOrEqual(5);
}

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) =>
  existsSync(p),
);

describe('probeKeepAlive against nginx (keepalive_timeout 3s, keepalive_requests 7)', () => {
  let url = '';
  let nginx: ChildProcess | undefined;
  let stderr = '';
  let dir = '';

  beforeAll(async () => {
    if (!NGINX) {
      throw new Error(
        'nginx not found in /usr/sbin, /usr/local/sbin, /usr/bin: install it (apt-get install nginx-light; .ci/run does)',
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'kalab-doctor-nginx-'));
    const port = await freePort();
    const conf = `daemon off;
worker_processes 1;
error_log stderr;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    keepalive_timeout 3s;
    keepalive_requests 7;
    location / { return 200 "Hello world\\n"; }
  }
}
`;
    writeFileSync(join(dir, 'nginx.conf'), conf);
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Wait for the listener: connect until it answers, or nginx exits, or 10 s pass.
    const until = Date.now() + 10_000;
    for (;;) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}: ${stderr}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > until) throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    url = `http://127.0.0.1:${port}/`;
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports an idle timeout of 3 s ±10% and 7 requests per connection', async () => {
    const started = performance.now();
    const p = await probeKeepAlive(url, { budgetMs: 20_000 });
    expect(performance.now() - started).toBeLessThan(20_000);
    expectContract(p);
    expect(p.keepAlive).toBe(true);
    within(p.idleTimeoutMs, 3_000, 0.1);
    expect(p.maxRequestsPerConnection).toBe(7);
    expect(p.observations.maxRequests?.endedBy).toBe('connection-close');
    expect(p.pipelining).toBe(true);
    expect(p.http2).toEqual({ h2c: false, alpn: null });
    const advice = p.recommendations.join('\n');
    const safe = Number(/keepAliveTimeout: (\d+)/.exec(advice)?.[1]);
    expect(safe, advice).toBeGreaterThanOrEqual(1_700);
    expect(safe, advice).toBeLessThanOrEqual(2_300);
    expect(advice).toMatch(/IdleConnTimeout: \d+ \* time\.(Second|Millisecond)/);
    expect(advice).toMatch(/after 7 requests/);
  });
});

describe('probeKeepAlive against node:http servers', () => {
  it('measures a node:http server with keepAliveTimeout 1000 closing after 2 s ±10% (Node 20 adds 1 s)', async () => {
    const url = await nodeServer((s) => {
      s.keepAliveTimeout = 1_000;
    });
    const p = await probeKeepAlive(url, { budgetMs: 15_000 });
    expectContract(p);
    expect(p.keepAlive).toBe(true);
    expect(p.advertisedKeepAlive).toBe('timeout=1');
    within(p.idleTimeoutMs, 2_000, 0.1);
    expect(p.maxRequestsPerConnection).toBeNull();
    expect(p.observations.maxRequests).toEqual({ served: 1_000, endedBy: 'cap' });
    expect(p.observations.idle!.samplesMs.length).toBeGreaterThanOrEqual(1);
  });

  it('reports keepAliveTimeout 2000 as advertised timeout=2 but a real 3 s close, and says which way the mismatch cuts', async () => {
    const url = await nodeServer((s) => {
      s.keepAliveTimeout = 2_000;
      s.maxRequestsPerSocket = 5;
    });
    const p = await probeKeepAlive(url, { budgetMs: 15_000 });
    expect(p.advertisedKeepAlive).toBe('timeout=2, max=5');
    within(p.idleTimeoutMs, 3_000, 0.1);
    expect(p.maxRequestsPerConnection).toBe(5);
    expect(p.recommendations.join('\n')).toMatch(/closes idle connections later/);
    expect(formatDoctor(p)).toMatch(/max requests\/connection\s+5 /);
  });

  it('reports a server that sends Connection: close on every response as not keep-alive', async () => {
    const url = await nodeServer(
      () => {},
      (_req, res) => {
        res.setHeader('Connection', 'close');
        res.end('Hello world');
      },
    );
    const p = await probeKeepAlive(url, { budgetMs: 10_000 });
    expectContract(p);
    expect(doctorJson(p)).toMatchObject({
      keepAlive: false,
      idleTimeoutMs: null,
      maxRequestsPerConnection: 1,
      pipelining: false,
      http2: { h2c: false, alpn: null },
    });
    expect(p.recommendations[0]).toMatch(/DisableKeepAlives: true/);
    expect(p.observations.elapsedMs).toBeLessThan(5_000);
  });

  it('reports a server that closes after every response without saying so as not keep-alive', async () => {
    const url = await rawServer((socket) => socket.end());
    const p = await probeKeepAlive(url, { budgetMs: 10_000 });
    expect(p.keepAlive).toBe(false);
    expect(p.maxRequestsPerConnection).toBe(1);
    expect(p.idleTimeoutMs).toBeNull();
    expect(formatDoctor(p)).toMatch(/keep-alive\s+no/);
  });

  it('reports no idle timeout found within a 5 s budget for a server without one, and finishes within it', async () => {
    const url = await nodeServer((s) => {
      s.keepAliveTimeout = 0;
    });
    const started = performance.now();
    const p = await probeKeepAlive(url, { budgetMs: 5_000 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThanOrEqual(5_000);
    expect(p.keepAlive).toBe(true);
    expect(p.idleTimeoutMs).toBeNull();
    expect(p.observations.idle!.waitedMs).toBeGreaterThan(3_000);
    // The reuse search ran: idle connections still answered after their gaps.
    expect(p.observations.idle!.aliveAfterMs).toBeGreaterThan(1_000);
    expect(p.recommendations.join('\n')).toMatch(/No idle close within/);
    expect(formatDoctor(p)).toMatch(/idle timeout\s+none found within/);
  });

  it('finds a raw server that never closes idle when no timeout at all within budget', async () => {
    const url = await rawServer(() => {});
    const p = await probeKeepAlive(url, { budgetMs: 3_000 });
    expect(p.keepAlive).toBe(true);
    expect(p.idleTimeoutMs).toBeNull();
    expect(p.observations.elapsedMs).toBeLessThanOrEqual(3_000);
  });
});

describe('probeKeepAlive on odd servers', () => {
  it('says "HTTP/1.0 without keep-alive", not "Connection: close", for an HTTP/1.0 server that sends no Connection header', async () => {
    const url = await answerOnceServer('HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nHello world');
    const p = await probeKeepAlive(url, { budgetMs: 5_000 });
    expect(doctorJson(p)).toMatchObject({ keepAlive: false, maxRequestsPerConnection: 1, pipelining: false });
    expect(p.observations.first).toMatchObject({ httpVersion: '1.0', connection: null, closeReason: 'http10' });
    const table = formatDoctor(p);
    expect(table).toMatch(/\n {2}keep-alive {15}no \(HTTP\/1\.0 200: HTTP\/1\.0 without keep-alive\)\n/);
    expect(table).toMatch(/\n {2}max requests\/connection {2}1 \(HTTP\/1\.0 without keep-alive\)\n/);
    expect(table).not.toMatch(/Connection: close/);
  });

  it('says why a response without Content-Length ends the connection', async () => {
    const url = await answerOnceServer('HTTP/1.1 200 OK\r\n\r\nHello world');
    const p = await probeKeepAlive(url, { budgetMs: 5_000 });
    expect(p.observations.first).toMatchObject({ httpVersion: '1.1', closeReason: 'until-close' });
    expect(formatDoctor(p)).toMatch(
      /max requests\/connection {2}1 \(no Content-Length: the body ends at the close\)\n/,
    );
  });

  it('finds a silent drop: connections idle over 1 s stop answering without a FIN', async () => {
    // Like a NAT or load balancer that forgot the flow: the bytes go nowhere, no FIN, no RST.
    const server = net.createServer((socket) => {
      let lastAnswer = performance.now();
      let pending = '';
      socket.on('data', (chunk) => {
        if (performance.now() - lastAnswer > 1_000) return;
        pending += chunk.toString('latin1');
        let at = pending.indexOf('\r\n\r\n');
        while (at >= 0) {
          pending = pending.slice(at + 4);
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          lastAnswer = performance.now();
          at = pending.indexOf('\r\n\r\n');
        }
      });
      socket.on('error', () => {});
    });
    const url = await listen(server);
    const p = await probeKeepAlive(url, { budgetMs: 5_000 });
    expect(p.keepAlive).toBe(true);
    expect(p.observations.idle!.samplesMs).toEqual([]);
    expect(p.observations.idle!.deadAfterMs).toBeGreaterThan(1_000);
    expect(p.observations.idle!.deadAfterMs).toBeLessThan(5_000);
    expect(p.idleTimeoutMs).toBeNull();
    expect(p.recommendations.join('\n')).toMatch(/dropped without a FIN/);
    expect(formatDoctor(p)).toMatch(/idle timeout\s+silent drop: reuse failed after \d+ ms idle/);
  });

  it('reports an h2c-only port as HTTP/2 without HTTP/1.1 keep-alive', async () => {
    const server = http2.createServer((_req, res) => res.end('Hello world'));
    const url = await listen(server);
    const p = await probeKeepAlive(url, { budgetMs: 5_000 });
    expect(doctorJson(p)).toMatchObject({
      keepAlive: false,
      idleTimeoutMs: null,
      maxRequestsPerConnection: null,
      http2: { h2c: true, alpn: null },
    });
    expect(p.recommendations.join('\n')).toMatch(/only HTTP\/2/);
  });
});

describe('probeKeepAlive errors', () => {
  it('throws KALAB_ERR_UNREACHABLE for a port nobody listens on', async () => {
    const port = await freePort();
    await expect(probeKeepAlive(`http://127.0.0.1:${port}/`, { budgetMs: 5_000 })).rejects.toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('throws KALAB_ERR_UNREACHABLE within the budget when connect() hangs (a listener whose accept queue is full)', async () => {
    // A child listens with backlog 1 and blocks its event loop, so it never accepts:
    // two connections fill the kernel's accept queue, later SYNs are dropped.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
           process.stdout.write(String(s.address().port) + '\\n');
           setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 50);
         });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    closers.push(async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    });
    const port = await new Promise<number>((resolve) =>
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    await new Promise((r) => setTimeout(r, 200));
    const fillers = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
            s.on('error', () => {});
          }),
      ),
    );
    closers.push(() => {
      for (const s of fillers) s.destroy();
    });
    const started = performance.now();
    await expect(probeKeepAlive(`http://127.0.0.1:${port}/`, { budgetMs: 3_000 })).rejects.toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: expect.stringMatching(/no connection within|no HTTP response/),
    });
    expect(performance.now() - started).toBeLessThanOrEqual(3_000);
  });

  it('throws KALAB_ERR_BAD_OPTION naming URL for a bad URL or scheme', async () => {
    await expect(probeKeepAlive('not a url')).rejects.toMatchObject({ code: 'KALAB_ERR_BAD_OPTION', option: 'URL' });
    await expect(probeKeepAlive('ftp://127.0.0.1/')).rejects.toMatchObject({
      code: 'KALAB_ERR_BAD_OPTION',
      option: 'URL',
    });
    await expect(probeKeepAlive('http://127.0.0.1:1/', { budgetMs: 10 })).rejects.toMatchObject({
      code: 'KALAB_ERR_BAD_OPTION',
      option: 'budgetMs',
    });
  });
});

describe('probeKeepAlive against a server that closes with the next request in flight', () => {
  /** Answers 3 requests per connection, then ends the connection on the 4th, unanswered. */
  function closesOnFourth(close: (socket: net.Socket) => void): Promise<string> {
    const server = net.createServer((socket) => {
      let pending = '';
      let answered = 0;
      socket.on('data', (chunk) => {
        pending += chunk.toString('latin1');
        let at = pending.indexOf('\r\n\r\n');
        while (at >= 0 && !socket.destroyed && !socket.writableEnded) {
          pending = pending.slice(at + 4);
          if (answered === 3) close(socket);
          else {
            answered++;
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello world');
          }
          at = pending.indexOf('\r\n\r\n');
        }
      });
      socket.on('error', () => {});
    });
    return listen(server);
  }

  it.each([
    ['a FIN', (s: net.Socket) => s.end(), 'fin', 'EPEERCLOSED', 'then FIN (EPEERCLOSED on the next request)'],
    [
      'a RST',
      (s: net.Socket) => s.resetAndDestroy(),
      'reset',
      'ECONNRESET',
      'then RST (ECONNRESET on the next request)',
    ],
  ] as const)(
    '%s: 3 requests per connection, the 4th failing with the code of that close',
    async (_what, close, endedBy, code, shown) => {
      const url = await closesOnFourth(close);
      const p = await probeKeepAlive(url, { budgetMs: 3_000 });
      expect(p.maxRequestsPerConnection).toBe(3);
      expect(p.observations.maxRequests).toEqual({ served: 3, endedBy, code });
      expect(formatDoctor(p)).toContain(`max requests/connection  3 (${shown})`);
    },
  );
});

describe('a server that refuses the request', () => {
  it('431 with Connection: close: the doctor says the request was refused, not "enable keep-alive"', async () => {
    const url = await answerOnceServer(
      'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    const probe = await probeKeepAlive(url, { budgetMs: 3000 });
    const text = formatDoctor(probe);
    expect(text).toContain(
      'not judged: the server refused the request (HTTP/1.1 431 Request Header Fields Too Large, Connection: close)',
    );
    expect(text).toContain("The server refused the probe's request (431 Request Header Fields Too Large)");
    expect(text).not.toContain('Enable keep-alive');
  });
});
