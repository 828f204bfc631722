import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LoadOptions, type LoadReport, runLoad } from '../../packages/loadgen/src/index.js';
import { ReportSchema } from '../../packages/protocol/src/index.js';
import { createLabServer, generateCertificate, type LabServer } from '../../packages/server/src/index.js';
import { hasCommand, isRoot, missing } from '../support/needs.js';
import { startSynCapture } from '../support/syn-capture.js';

/**
 * On loopback: what kalab reports about TLS equals what an independent
 * TLS server (nginx) logs about its own connections and resumed sessions, what the lab
 * server's ledger says, and the SYNs on the wire.
 */

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface NginxLine {
  connection: number;
  reused: boolean;
  method: string;
  xTest: string;
  contentLength: string;
  protocol: string;
  tls: string;
}

/** nginx with TLS (and HTTP/2) on a free loopback port, logging each request's connection and whether its session was resumed. */
async function startNginx(protocols = 'TLSv1.2 TLSv1.3'): Promise<{
  url: string;
  port: number;
  log: () => NginxLine[];
  clear: () => void;
  stop: () => void;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-nginx-'));
  const c = await generateCertificate();
  writeFileSync(join(dir, 'cert.pem'), c.cert);
  writeFileSync(join(dir, 'key.pem'), c.key);
  const port = await freePort();
  const log = join(dir, 'access.log');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  log_format kalab '$connection $ssl_session_reused $request_method "$http_x_test" "$content_length" $server_protocol $ssl_protocol';
  access_log ${log} kalab buffer=4k flush=100ms;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  ssl_session_cache shared:kalab:1m;
  ssl_protocols ${protocols};
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
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
        s.listen(port, '127.0.0.1', () => s.close(() => reject(new Error('nginx is not listening yet'))));
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
        const m = /^(\d+) (r|\.) (\S+) "([^"]*)" "([^"]*)" (\S+) (\S+)$/.exec(l);
        if (!m) throw new Error(`unexpected nginx log line: ${l}`);
        return {
          connection: Number(m[1]),
          reused: m[2] === 'r',
          method: m[3]!,
          xTest: m[4]!,
          contentLength: m[5]!,
          protocol: m[6]!,
          tls: m[7]!,
        };
      });
  };
  return {
    url: `https://127.0.0.1:${port}/`,
    port,
    log: read,
    clear: () => writeFileSync(log, ''),
    stop: () => {
      child.kill('SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const nginxHasTls =
  hasCommand('nginx') && /http_ssl_module/.test(spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '');
const noNginx = missing('nginx with http_ssl_module', nginxHasTls);
const noCapture = missing('root and tcpdump (SYNs on loopback)', isRoot() && hasCommand('tcpdump'));

async function load(o: LoadOptions): Promise<LoadReport> {
  const report = await runLoad({ insecure: true, workers: 2, ...o }).result;
  ReportSchema.parse(report);
  return report;
}

/** Waits until nginx has flushed `n` log lines (its buffer flushes every 100 ms). */
async function linesOf(nginx: { log: () => NginxLine[] }, n: number): Promise<NginxLine[]> {
  await vi.waitFor(
    () => {
      if (nginx.log().length < n) throw new Error(`nginx logged ${nginx.log().length} of ${n}`);
    },
    { timeout: 10_000, interval: 50 },
  );
  return nginx.log();
}

describe.skipIf(noNginx)('TLS counts agree with nginx (its $connection and $ssl_session_reused)', () => {
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  beforeAll(async () => {
    nginx = await startNginx();
  });
  afterAll(() => nginx?.stop());

  it.skipIf(noCapture).each(['undici', 'http', 'net'] as const)(
    '%s keep-alive -c 8 -n 4000: connections.opened = tls.handshakes = nginx connections = SYNs on the wire = 8',
    async (engine) => {
      nginx.clear();
      const capture = await startSynCapture(nginx.port);
      const report = await load({ target: nginx.url, engine, connections: 8, requests: 4000 });
      const syns = await capture.stop();
      const lines = await linesOf(nginx, 4000);
      expect(report.requests.ok).toBe(4000);
      expect(lines).toHaveLength(4000);
      const connections = new Set(lines.map((l) => l.connection)).size;
      expect(report.connections.opened).toBe(8);
      expect(report.tls!.handshakes).toBe(8);
      expect(connections).toBe(8);
      expect(syns).toBe(8);
      expect(report.tls!.protocols).toEqual({ 'TLSv1.3': 8 });
      expect(report.tls!.alpn).toEqual({ 'http/1.1': 8 });
    },
  );

  it.skipIf(noCapture)(
    'h2 -c 1 --streams 8 -n 4000: one connection, one handshake, ALPN h2, 4000 streams',
    async () => {
      nginx.clear();
      const capture = await startSynCapture(nginx.port);
      const report = await load({
        target: nginx.url,
        engine: 'h2',
        connections: 1,
        streams: 8,
        requests: 4000,
        workers: 1,
      });
      const syns = await capture.stop();
      const lines = await linesOf(nginx, 4000);
      expect(report.requests.ok).toBe(4000);
      expect(new Set(lines.map((l) => l.connection)).size).toBe(1);
      expect(lines.every((l) => l.protocol === 'HTTP/2.0')).toBe(true);
      expect(report.connections.opened).toBe(1);
      expect(report.tls!.handshakes).toBe(1);
      expect(report.tls!.alpn).toEqual({ h2: 1 });
      expect(syns).toBe(1);
    },
  );

  it.each([
    // The engine library's default: undici's connector and node's https.Agent cache sessions; raw tls.connect does not.
    ['churn (default: no session cache)', { engine: 'undici' }, false],
    ['churn --tls-resume on', { engine: 'undici', tlsResume: true }, true],
    ['http (https.Agent default: sessions cached)', { engine: 'http' }, true],
    ['http --tls-resume off', { engine: 'http', tlsResume: false }, false],
  ] as Array<[string, Pick<LoadOptions, 'engine' | 'tlsResume'>, boolean]>)(
    '%s --no-keepalive -c 4 -n 400: tls.resumed = the sessions nginx resumed',
    async (_what, o, resumes) => {
      nginx.clear();
      const report = await load({ target: nginx.url, keepAlive: false, connections: 4, requests: 400, ...o });
      const lines = await linesOf(nginx, 400);
      expect(report.requests.ok).toBe(400);
      expect(new Set(lines.map((l) => l.connection)).size).toBe(400);
      expect(report.connections.opened).toBe(400);
      expect(report.tls!.handshakes).toBe(400);
      const resumed = lines.filter((l) => l.reused).length;
      expect(report.tls!.resumed).toBe(resumed);
      expect(report.tls!.resumeSessions).toBe(resumes);
      // The first -c connections have no session to offer yet; every later one resumes (or none does).
      if (resumes) expect(resumed).toBeGreaterThanOrEqual(400 - 4 * 2);
      else expect(resumed).toBe(0);
    },
  );

  it.each(['undici', 'http', 'net', 'h2'] as const)(
    "%s: -m POST -H 'X-Test: 1' -b hello arrives as that (nginx logs the method, the header and Content-Length 5)",
    async (engine) => {
      nginx.clear();
      const report = await load({
        target: nginx.url,
        engine,
        connections: 2,
        requests: 20,
        method: 'POST',
        headers: [['X-Test', '1']],
        body: 'hello',
      });
      expect(report.requests.ok).toBe(20);
      const lines = await linesOf(nginx, 20);
      expect(lines).toHaveLength(20);
      for (const l of lines) expect([l.method, l.xTest, l.contentLength]).toEqual(['POST', '1', '5']);
    },
  );
});

describe.skipIf(noNginx)('TLS 1.2 (nginx limited to it): sessions resume by ticket too', () => {
  it.each([
    ['churn --tls-resume on', { engine: 'net', tlsResume: true }, true],
    ['http', { engine: 'http' }, true],
    ['http --tls-resume off', { engine: 'http', tlsResume: false }, false],
  ] as Array<[string, Pick<LoadOptions, 'engine' | 'tlsResume'>, boolean]>)(
    '%s --no-keepalive -c 4 -n 400: tls.resumed = the sessions nginx resumed, every handshake TLSv1.2',
    async (_what, o, resumes) => {
      const nginx = await startNginx('TLSv1.2');
      try {
        const report = await load({ target: nginx.url, keepAlive: false, connections: 4, requests: 400, ...o });
        const lines = await linesOf(nginx, 400);
        expect(report.tls!.protocols).toEqual({ 'TLSv1.2': report.connections.opened });
        expect(lines.every((l) => l.tls === 'TLSv1.2')).toBe(true);
        const resumed = lines.filter((l) => l.reused).length;
        expect(report.tls!.resumed).toBe(resumed);
        if (resumes) expect(resumed).toBeGreaterThanOrEqual(400 - 4 * 2);
        else expect(resumed).toBe(0);
      } finally {
        nginx.stop();
      }
    },
  );
});

describe('TLS counts agree with the lab server ledger (kalab server --tls)', () => {
  let lab: LabServer;
  let url = '';
  beforeAll(async () => {
    lab = createLabServer({ port: 0, tls: true, h2: true });
    url = `${(await lab.listen()).url}/`;
  });
  afterAll(() => lab.close({ graceMs: 0 }));

  const delta = async <T>(
    fn: () => Promise<T>,
  ): Promise<{ r: T; handshakes: number; resumed: number; opened: number }> => {
    const before = { ...lab.stats().tls!, opened: lab.stats().connections.opened };
    const r = await fn();
    await vi.waitFor(() => {
      if (lab.ledger.openCount > 0) throw new Error('connections still open');
    });
    const after = lab.stats();
    return {
      r,
      handshakes: after.tls!.handshakes - before.handshakes,
      resumed: after.tls!.resumed - before.resumed,
      opened: after.connections.opened - before.opened,
    };
  };

  it.each(['undici', 'http', 'net'] as const)(
    '%s keep-alive -c 8 -n 4000: 8 connections, 8 handshakes on both sides',
    async (engine) => {
      const d = await delta(() => load({ target: url, engine, connections: 8, requests: 4000 }));
      expect(d.r.requests.ok).toBe(4000);
      expect(d.r.connections.opened).toBe(8);
      expect(d.r.tls!.handshakes).toBe(8);
      expect(d.opened).toBe(8);
      expect(d.handshakes).toBe(8);
    },
  );

  it.each([
    ['churn', { engine: 'undici' }, false],
    ['churn --tls-resume on', { engine: 'net', tlsResume: true }, true],
    ['http', { engine: 'http' }, true],
    ['http --tls-resume off', { engine: 'http', tlsResume: false }, false],
  ] as Array<[string, Pick<LoadOptions, 'engine' | 'tlsResume'>, boolean]>)(
    '%s --no-keepalive -c 4 -n 400: tls.resumed = the ledger resumed',
    async (_what, o, resumes) => {
      const d = await delta(() => load({ target: url, keepAlive: false, connections: 4, requests: 400, ...o }));
      expect(d.r.requests.ok).toBe(400);
      expect(d.r.tls!.handshakes).toBe(400);
      expect(d.handshakes).toBe(400);
      expect(d.r.tls!.resumed).toBe(d.resumed);
      if (resumes) expect(d.resumed).toBeGreaterThanOrEqual(400 - 4 * 2);
      else expect(d.resumed).toBe(0);
    },
  );
});
