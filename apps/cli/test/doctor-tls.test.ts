import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificate } from '@kalab/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KALAB, runKalab } from './helpers/run-kalab.js';

const kalab = (args: string[]) => runKalab(args);

/**
 * `kalab doctor` takes loadgen's TLS flags (-k, --ca, --servername: one definition in the
 * CLI), and a certificate it cannot verify is refused with a line naming the flag that helps.
 * The server closes after each response (--close), so each probe ends in well under a second.
 */
describe('kalab doctor https:// with a self-signed certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-doctor-tls-'));
  const certFile = join(dir, 'cert.pem');
  let server: ChildProcess;
  let url = '';

  beforeAll(async () => {
    const c = await generateCertificate();
    writeFileSync(certFile, c.cert);
    writeFileSync(join(dir, 'key.pem'), c.key);
    writeFileSync(join(dir, 'armour.pem'), '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n');
    server = spawn(
      process.execPath,
      [KALAB, 'server', '--port', '0', '--close', '--cert', certFile, '--key', join(dir, 'key.pem')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (https:\/\/\S+)/.exec(out);
        if (m) resolve(`${m[1]}/`);
      });
      server.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });
  });
  afterAll(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a flag: exit 3, one line naming the certificate error, --insecure and --ca', async () => {
    const r = await kalab(['doctor', url, '--budget', '5s']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /self-signed certificate \(--insecure accepts any certificate, --ca FILE trusts the one that signed it\)/,
    );
  });

  it('--ca FILE and -k each get through: exit 0 and the TLS line of the probe', async () => {
    for (const flags of [['--ca', certFile], ['-k']]) {
      const r = await kalab(['doctor', url, '--budget', '5s', '--json', ...flags]);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(0);
      const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        keepAlive: boolean;
        tls: { version: string } | null;
      };
      expect(json.keepAlive).toBe(false);
      expect(json.tls?.version).toBe('TLSv1.3');
    }
  });

  it('--servername with a name the certificate lacks: exit 3 naming --servername', async () => {
    const r = await kalab(['doctor', url, '--budget', '5s', '--ca', certFile, '--servername', 'example.test']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--servername NAME names one the certificate carries/);
  });

  it('bad TLS flags are exit 2 naming the flag: an IP as --servername, PEM armour around garbage, /dev/zero', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--servername', '127.0.0.1'], /^kalab: --servername must be a DNS name, not an IP address/],
      [['--servername', 'a\r\nb'], /^kalab: --servername must be a DNS name, got "a\\r\\nb"$/],
      [['--ca', join(dir, 'armour.pem')], /^kalab: --ca certificate 1 of 1 is not a valid X\.509 certificate/],
      [['--ca', '/dev/zero'], /^kalab: --ca "\/dev\/zero" is not a regular file$/],
    ];
    for (const [flags, message] of cases) {
      const r = await kalab(['doctor', url, '--budget', '5s', ...flags]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(message);
    }
  });
});
