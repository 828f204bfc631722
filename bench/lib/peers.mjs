// What the benches share: a pinned nginx to measure against, pinned runs of the peers (wrk,
// hey, h2load, autocannon) and of kalab, and the parsing of their outputs. Loopback only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const KALAB = join(here, '..', '..', 'apps', 'cli', 'bin', 'kalab.js');
export const AUTOCANNON = join(here, '..', 'node_modules', 'autocannon', 'autocannon.js');

export const hasCommand = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Exits 2 naming the Debian packages when a peer is missing: a bench without its peer measures nothing. */
export function requireTools(tools) {
  const missing = tools.filter((t) => !hasCommand(t));
  if (missing.length > 0) {
    console.error(
      `bench: ${missing.join(', ')} not installed (apt-get install -y nginx-light wrk hey nghttp2-client util-linux)`,
    );
    process.exit(2);
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 200; i++) {
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 10 s`);
}

/**
 * nginx answering "Hello world" on 127.0.0.1, pinned with taskset.
 * @param {{ cpus: string, workers?: number, listen?: Array<'http' | 'h2c' | 'https'>, cert?: { cert: string, key: string } }} o
 *   `http`: HTTP/1.1; `h2c`: HTTP/2 with prior knowledge (its own port: nginx 1.22 serves only h2 there);
 *   `https`: TLS 1.2/1.3 with HTTP/2 and HTTP/1.1 by ALPN, a session cache and tickets (needs `cert`).
 * @returns {Promise<{ urls: Record<string, string>, pid: number, stop(): Promise<void> }>}
 */
export async function startNginx({ cpus, workers = 1, listen = ['http'], cert }) {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-bench-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const ports = {};
  const servers = [];
  for (const kind of listen) {
    const port = await freePort();
    ports[kind] = port;
    if (kind === 'http')
      servers.push(`server { listen 127.0.0.1:${port} backlog=4096; location / { return 200 "Hello world"; } }`);
    if (kind === 'h2c')
      servers.push(`server { listen 127.0.0.1:${port} http2 backlog=4096; location / { return 200 "Hello world"; } }`);
    if (kind === 'https') {
      writeFileSync(join(dir, 'cert.pem'), cert.cert);
      writeFileSync(join(dir, 'key.pem'), cert.key);
      servers.push(`server {
    listen 127.0.0.1:${port} ssl http2 backlog=4096;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / { return 200 "Hello world"; }
  }`);
    }
  }
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes ${workers};
daemon off;
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 1024;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:bench:10m;
  ${servers.join('\n  ')}
}
`,
  );
  const child = spawn('taskset', ['-c', cpus, 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const port of Object.values(ports)) await waitForPort(port);
  const urls = {};
  for (const [kind, port] of Object.entries(ports))
    urls[kind] = `${kind === 'https' ? 'https' : 'http'}://127.0.0.1:${port}/`;
  return {
    urls,
    pid: child.pid,
    /** The first worker's CPU seconds so far (utime + stime from /proc, clock ticks of 10 ms). */
    workerCpuSeconds() {
      const master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'));
      const worker = Number(readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/)[0]);
      const f = readFileSync(`/proc/${worker}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a command pinned to `cpus` and returns its stdout. */
export const pinned = (cpus, cmd, argv) =>
  execFileSync('taskset', ['-c', cpus, cmd, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** `kalab loadgen URL ...argv --json`, pinned; its kalab.report/v1 object. */
export const kalabLoadgen = (cpus, url, argv) =>
  JSON.parse(
    pinned(cpus, process.execPath, [KALAB, 'loadgen', url, ...argv, '--json'])
      .trim()
      .split('\n')
      .at(-1),
  );

/** Requests per second a report says were completed. */
export const reportRps = (r) => r.requests.completed / (r.durationMs / 1000);
/** wrk's and hey's "Requests/sec:" line. */
export const perSec = (out) => Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
/** h2load's "finished in …, N req/s" line. */
export const h2loadRps = (out) => Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)[1]);

/** Lets TIME_WAIT from a churn run not weigh on the next one. */
export const settle = (ms = 1000) => new Promise((r) => setTimeout(r, ms));
