import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createH2c, createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createMonitor } from '@kalab/monitor';
import { generateCertificate } from '@kalab/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCommand, missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const LOG_SERVER = fileURLToPath(new URL('../../../packages/loadgen/test/fixtures/log-server.py', import.meta.url));
/** user "us er", password "p@ss:w" as they must be typed in a URL. */
const USERINFO = 'us%20er:p%40ss%3Aw';
const BASIC = `Basic ${Buffer.from('us er:p@ss:w').toString('base64')}`;
const SECRETS = ['us%20er', 'p%40ss', 'p@ss', Buffer.from('us er:p@ss:w').toString('base64')];

function kalab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const authorizations = (headers: [string, string][]) =>
  headers.filter(([n]) => n.toLowerCase() === 'authorization').map(([, v]) => v);

function expectNoSecret(text: string): void {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

describe.skipIf(missing('python3', hasCommand('python3')))(
  'loadgen http://user:pw@host/ sends Basic credentials and never prints them',
  () => {
    let py: ChildProcess;
    const log: { headers: [string, string][] }[] = [];
    let port = 0;
    beforeAll(async () => {
      py = spawn('python3', [LOG_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
      const lines = createInterface({ input: py.stdout! });
      port = await new Promise<number>((resolve) =>
        lines.on('line', (l) => {
          const m = JSON.parse(l) as { port?: number; headers: [string, string][] };
          if (m.port !== undefined) resolve(m.port);
          else log.push(m);
        }),
      );
    });
    afterAll(() => {
      py.kill();
    });

    it.each([
      ['undici', []],
      ['http', ['--engine', 'http']],
      ['net', ['--engine', 'net']],
      ['churn (net --no-keepalive)', ['--engine', 'net', '--no-keepalive']],
      ['churn (undici --no-keepalive)', ['--no-keepalive']],
    ])(
      "%s: Python's http.server logs Authorization: Basic on all 4 requests; report and stderr carry the URL without userinfo",
      async (_what, flags) => {
        log.length = 0;
        const r = await kalab([
          'loadgen',
          `http://${USERINFO}@127.0.0.1:${port}/echo`,
          '-n',
          '4',
          '-c',
          '1',
          '--json',
          ...flags,
        ]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(log).toHaveLength(4);
        for (const l of log) expect(authorizations(l.headers)).toEqual([BASIC]);
        const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
        expect(report.target).toBe(`http://127.0.0.1:${port}/echo`);
        expectNoSecret(r.stdout + r.stderr);
      },
    );

    it('-H Authorization wins over the userinfo, as in curl', async () => {
      log.length = 0;
      const r = await kalab([
        'loadgen',
        `http://${USERINFO}@127.0.0.1:${port}/`,
        '-n',
        '1',
        '-c',
        '1',
        '-H',
        'Authorization: Bearer x',
      ]);
      expect(r.code).toBe(0);
      expect(authorizations(log[0]!.headers)).toEqual(['Bearer x']);
    });

    it("the monitor's snapshot and the --record file carry the target without userinfo", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kalab-cred-'));
      const m = await createMonitor({ port: 0, sampleLocalTcp: false, recordDir: dir, tickMs: 100 });
      try {
        const ended = new Promise((resolve) => m.once('run-ended', resolve));
        const r = await kalab([
          'loadgen',
          `http://${USERINFO}@127.0.0.1:${port}/rec`,
          '-n',
          '4',
          '-c',
          '1',
          '--monitor',
          m.url,
        ]);
        expect(r.code).toBe(0);
        expectNoSecret(r.stdout + r.stderr);
        await ended;
        const snap = JSON.stringify(m.snapshot());
        expect(snap).toContain(`http://127.0.0.1:${port}/rec`);
        expectNoSecret(snap);
        const files = readdirSync(dir);
        expect(files).toHaveLength(1);
        const rec = readFileSync(join(dir, files[0]!), 'utf8');
        expect(rec).toContain(`http://127.0.0.1:${port}/rec`);
        expectNoSecret(rec);
      } finally {
        await m.close();
      }
    });
  },
);

describe('the h2 engines send the userinfo as Basic too', () => {
  it.each(['h2c', 'h2'])('%s: the node:http2 server sees authorization: Basic on all 3 streams', async (engine) => {
    const seen: IncomingHttpHeaders[] = [];
    const cert = engine === 'h2' ? await generateCertificate() : undefined;
    const srv = cert ? createSecureServer({ cert: cert.cert, key: cert.key }) : createH2c();
    srv.on('stream', (stream, headers) => {
      seen.push(headers);
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as AddressInfo).port;
    try {
      const scheme = engine === 'h2' ? 'https' : 'http';
      const r = await kalab([
        'loadgen',
        `${scheme}://${USERINFO}@127.0.0.1:${p}/`,
        '--engine',
        engine,
        '-n',
        '3',
        '-c',
        '1',
        '--json',
        ...(cert ? ['-k'] : []),
      ]);
      expect(r.code).toBe(0);
      expect(seen).toHaveLength(3);
      for (const h of seen) expect(h['authorization']).toBe(BASIC);
      expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).target).toBe(`${scheme}://127.0.0.1:${p}/`);
      expectNoSecret(r.stdout + r.stderr);
    } finally {
      srv.close();
    }
  });
});
