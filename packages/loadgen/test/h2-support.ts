import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { hasCommand } from '../../../test/support/needs.js';
import { createDialer } from '../src/dial.js';
import { Driver } from '../src/driver.js';
import { localAddressRing } from '../src/engine.js';
import { createH2cEngine } from '../src/engine-h2c.js';
import { type LoadOptions, resolveOptions } from '../src/options.js';
import { requestShape } from '../src/request-shape.js';
import { type Counters, WorkerStats } from '../src/worker-stats.js';

/** One worker's h2 run, in this thread: the engine under a Driver with `--streams` slots per session, as a worker runs it. */
export interface H2Run {
  c: Counters & { streams: number; peerMaxStreams: number };
  errors: Record<string, number>;
}

export async function runH2(o: LoadOptions): Promise<H2Run> {
  const options = resolveOptions({ engine: 'h2', workers: 1, ...o });
  const slice = {
    index: 0,
    connections: options.connections,
    requests: options.requests,
    rate: options.rate,
    maxIdle: 0,
  };
  const stats = new WorkerStats(0);
  const url = new URL(options.target);
  const engine = createH2cEngine({
    options,
    slice,
    url,
    stats,
    nextLocalAddress: localAddressRing(options.localAddresses, 0),
    shape: requestShape(url, options.method, options.headers, options.body),
    dial: createDialer(url, options.tls, stats),
  });
  const driver = new Driver(engine, stats, {
    slice,
    perConnection: options.streams ?? 1,
    durationMs: options.durationMs,
  });
  driver.start();
  await driver.finished;
  await engine.close();
  return { c: stats.c as H2Run['c'], errors: { ...stats.errors } };
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const hasNginxTls =
  hasCommand('nginx') &&
  hasCommand('openssl') &&
  /http_ssl_module/.test(spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '') &&
  /http_v2_module/.test(spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '');

export interface NginxLine {
  connection: number;
  method: string;
  status: number;
  requestLength: number;
  contentLength: string;
  xTest: string;
  protocol: string;
  bytesSent: number;
}

export interface H2Nginx {
  h2c: string;
  tls: string;
  /** Ports whose server ends every connection after 100 streams (keepalive_requests 100: GOAWAY). */
  h2cRotating: string;
  log: () => NginxLine[];
  /** Waits for `n` log lines (nginx flushes its buffer every 100 ms). */
  lines: (n: number) => Promise<NginxLine[]>;
  clear: () => void;
  stop: () => void;
  /** Bytes of a file PUT under /dav/ (what nginx read of the body). */
  putBytes: (name: string) => number;
}

/**
 * nginx, one worker: h2c (prior knowledge) and h2 over TLS on two ports, a third h2c port with
 * keepalive_requests 100, `/big` a 20 MiB file, and a log line per request with its connection
 * number, method, request length, Content-Length, X-Test and body bytes sent.
 */
export async function startNginx(): Promise<H2Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-h2-nginx-'));
  mkdirSync(join(dir, 'www'));
  writeFileSync(join(dir, 'www', 'big'), Buffer.alloc(20 * 1024 * 1024, 'x'));
  spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  const [h2c, tls, rotating] = [await freePort(), await freePort(), await freePort()];
  const log = join(dir, 'access.log');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  log_format kalab '$connection $request_method $status $request_length "$content_length" "$http_x_test" $server_protocol $body_bytes_sent';
  access_log ${log} kalab buffer=4k flush=100ms;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 75s;
  http2_max_concurrent_streams 128;
  server {
    listen 127.0.0.1:${h2c} http2;
    listen 127.0.0.1:${tls} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    keepalive_requests 1000000;
    location / { return 200 'Hello world'; }
    location /big { root ${dir}/www; }
    location /dav/ { root ${dir}/www; dav_methods PUT; create_full_put_path on; client_max_body_size 10m; }
  }
  server {
    listen 127.0.0.1:${rotating} http2;
    keepalive_requests 100;
    location / { return 200 'Hello world'; }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  await vi.waitFor(
    () =>
      new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once('error', () => resolve()); // the port is taken: nginx listens
        s.listen(rotating, '127.0.0.1', () => s.close(() => reject(new Error('nginx is not listening yet'))));
      }),
    { timeout: 10_000, interval: 50 },
  );
  const read = (): NginxLine[] => {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(\d+) (\S+) (\d+) (\d+) "([^"]*)" "([^"]*)" (\S+) (\d+)$/.exec(l);
        if (!m) throw new Error(`unexpected nginx log line: ${l}`);
        return {
          connection: Number(m[1]),
          method: m[2]!,
          status: Number(m[3]),
          requestLength: Number(m[4]),
          contentLength: m[5]!,
          xTest: m[6]!,
          protocol: m[7]!,
          bytesSent: Number(m[8]),
        };
      });
  };
  return {
    h2c: `http://127.0.0.1:${h2c}/`,
    tls: `https://127.0.0.1:${tls}/`,
    h2cRotating: `http://127.0.0.1:${rotating}/`,
    log: read,
    lines: async (n) => {
      await vi.waitFor(
        () => {
          const got = read().length;
          if (got < n) throw new Error(`nginx logged ${got} of ${n}`);
        },
        { timeout: 10_000, interval: 50 },
      );
      return read();
    },
    clear: () => writeFileSync(log, ''),
    putBytes: (name) => statSync(join(dir, 'www', 'dav', name)).size,
    stop: () => {
      child.kill('SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Distinct connections in nginx's log lines. */
export function connectionsOf(lines: NginxLine[]): number {
  return new Set(lines.map((l) => l.connection)).size;
}
