import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateCertificate, loadCertificate } from '../src/index.js';

const NAMES = { cert: '--cert', key: '--key' };
const pemKey = (type: 'rsa' | 'ec') =>
  generateKeyPairSync(type as 'rsa', type === 'rsa' ? { modulusLength: 2048 } : ({ namedCurve: 'P-256' } as never))
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

describe('loadCertificate: --cert and --key checked at start', () => {
  it('takes a certificate with its own key', async () => {
    const c = await generateCertificate();
    expect(loadCertificate(c.cert, c.key, NAMES).fingerprint256).toBe(c.fingerprint256);
  });

  it('refuses a key of another type than the certificate (OpenSSL alone lets it start and fail every handshake)', async () => {
    const c = await generateCertificate(); // an EC P-256 certificate
    expect(() => loadCertificate(c.cert, pemKey('rsa'), NAMES)).toThrow(/^--key is not the private key of --cert/);
  });

  it('refuses another key of the same type', async () => {
    const c = await generateCertificate();
    expect(() => loadCertificate(c.cert, pemKey('ec'), NAMES)).toThrow(/^--key is not the private key of --cert/);
  });
});
