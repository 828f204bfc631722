import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReportSchema } from '@kalab/protocol';
import { generateCertificate } from '@kalab/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kalab(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  });
}

/** `kalab server ARGS --port 0` until it says where it listens; its stdout so far. */
async function startServer(args: string[]): Promise<{ url: string; out: () => string; child: ChildProcess }> {
  const child = spawn(process.execPath, [KALAB, 'server', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m && /fingerprint/.test(out)) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return { url, out: () => out, child };
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as unknown;

describe('kalab server --tls and kalab loadgen https://', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  let server: Awaited<ReturnType<typeof startServer>>;
  let fingerprint = '';

  beforeAll(async () => {
    const c = await generateCertificate();
    writeFileSync(certFile, c.cert);
    writeFileSync(keyFile, c.key);
    fingerprint = c.fingerprint256;
    server = await startServer(['--cert', certFile, '--key', keyFile, '--h2']);
  });
  afterAll(() => {
    server?.child.kill('SIGTERM');
  });

  it('prints the certificate fingerprint', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.out()).toContain(`tls: SHA-256 fingerprint ${fingerprint}`);
  });

  it('--tls alone generates a certificate and says its fingerprint', async () => {
    const s = await startServer(['--tls']);
    try {
      expect(s.out()).toMatch(/tls: self-signed certificate generated for DNS:localhost, IP Address:127\.0\.0\.1/);
      expect(s.out()).toMatch(/tls: SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    } finally {
      s.child.kill('SIGTERM');
    }
  });

  it.each(['undici', 'http', 'net', 'h2'])(
    '%s: a self-signed certificate without --insecure: every request fails with its code, exit 3, one line naming --insecure and --ca',
    async (engine) => {
      const r = await kalab(['loadgen', `${server.url}/`, '--engine', engine, '-c', '2', '-n', '10', '--json']);
      expect(r.code).toBe(3);
      const report = ReportSchema.parse(lastJson(r.stdout));
      expect(report.requests.failed).toBe(10);
      expect(report.requests.ok).toBe(0);
      expect(report.tls?.handshakes).toBe(0);
      expect(Object.keys(report.errors)).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT']);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^kalab: https:\/\/127\.0\.0\.1:\d+\/: the server's certificate was refused \(DEPTH_ZERO_SELF_SIGNED_CERT\); --insecure accepts any certificate, --ca FILE trusts the one that signed it/,
      );
    },
  );

  it.each(['undici', 'http', 'net', 'h2'])(
    '%s: --ca trusts it; -k accepts it; --servername with a name it lacks fails ERR_TLS_CERT_ALTNAME_INVALID',
    async (engine) => {
      const ok = await kalab([
        'loadgen',
        `${server.url}/`,
        '--engine',
        engine,
        '-c',
        '2',
        '-n',
        '20',
        '--ca',
        certFile,
        '--json',
      ]);
      expect(ok.code).toBe(0);
      const report = ReportSchema.parse(lastJson(ok.stdout));
      expect(report.requests.ok).toBe(20);
      expect(report.tls?.handshakes).toBe(report.connections.opened);
      expect(report.tls?.protocols).toEqual({ 'TLSv1.3': report.connections.opened });
      expect(report.tls?.alpn).toEqual({ [engine === 'h2' ? 'h2' : 'http/1.1']: report.connections.opened });
      const k = await kalab(['loadgen', `${server.url}/`, '--engine', engine, '-n', '5', '-k', '--json']);
      expect(k.code).toBe(0);
      const wrong = await kalab([
        'loadgen',
        `${server.url}/`,
        '--engine',
        engine,
        '-n',
        '4',
        '--ca',
        certFile,
        '--servername',
        'example.test',
        '--json',
      ]);
      expect(wrong.code).toBe(3);
      expect(Object.keys(ReportSchema.parse(lastJson(wrong.stdout)).errors)).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID']);
    },
  );

  it('the human report and its tls line: handshakes/s and resumed %', async () => {
    const r = await kalab([
      'loadgen',
      `${server.url}/`,
      '-k',
      '--no-keepalive',
      '--tls-resume',
      'on',
      '-c',
      '1',
      '-n',
      '20',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /tls {10}20 handshakes = [\d,.]+ handshakes\/s, 19 resumed \(95%\); sessions offered for resumption \(--tls-resume\)/,
    );
  });
});

describe('bad TLS and request flags: exit 2 with one line naming the flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-bad-'));
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(8 * 1024 * 1024 + 1));

  it.each([
    [['server', '--cert', junk], '--cert needs --key'],
    [['server', '--key', junk], '--key needs --cert'],
    [['server', '--cert', join(dir, 'missing.pem'), '--key', junk], '--cert cannot read'],
    [['server', '--cert', junk, '--key', junk], '--cert holds no PEM certificate'],
    [['server', '--h2'], '--h2 needs --tls'],
    [['loadgen', 'http://127.0.0.1:1/', '-H', 'novalue'], `-H must be 'Name: value', got "novalue"`],
    [['loadgen', 'http://127.0.0.1:1/', '-H', 'X-A: 1\r\nX-B: 2'], '-H X-A: the value holds a CR, LF or NUL'],
    [['loadgen', 'http://127.0.0.1:1/', '-b', 'x', '--body-file', junk], '-b and --body-file cannot be used together'],
    [['loadgen', 'http://127.0.0.1:1/', '--body-file', join(dir, 'nope')], '--body-file cannot read'],
    [['loadgen', 'http://127.0.0.1:1/', '--body-file', big], 'more than the 8388608-byte limit'],
    [['loadgen', 'http://127.0.0.1:1/', '-k'], '--insecure needs an https:// URL'],
    [['loadgen', 'https://127.0.0.1:1/', '--ca', junk], '--ca must hold PEM certificates'],
    [['loadgen', 'https://127.0.0.1:1/', '--tls-resume', 'yes'], '--tls-resume must be on or off, got "yes"'],
  ])('kalab %j', async (args, message) => {
    const r = await kalab(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
