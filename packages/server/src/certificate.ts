import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { BadOptionError } from '@kalab/core';

/** The certificate a TLS lab server presents. */
export interface ServerCertificate {
  cert: string;
  key: string;
  /** SHA-256 fingerprint as openssl prints it (AA:BB:...): what a client pins or compares. */
  fingerprint256: string;
  /** Names it is valid for (subjectAltName as node prints it). */
  subjectAltName: string;
  /** True when generated at start (self-signed for 127.0.0.1, ::1 and localhost). */
  generated: boolean;
}

/** The names a generated certificate covers: every loopback name the lab listens on. */
export const GENERATED_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } as const;

/**
 * A self-signed ECDSA P-256 certificate for 127.0.0.1, ::1 and localhost, valid for 30 days,
 * made by the `selfsigned` library (no hand-written ASN.1). About 40 ms. The library (and
 * its X.509 stack) is loaded here, on first use: a plain-HTTP server never carries it.
 */
export async function generateCertificate(): Promise<ServerCertificate> {
  const { generate } = await import('selfsigned');
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 30 * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...GENERATED_NAMES.dns.map((value) => ({ type: 2 as const, value })),
          ...GENERATED_NAMES.ip.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return describe(pems.cert, pems.private, true);
}

/**
 * A certificate and key given as PEM (the content of --cert and --key), checked at the
 * boundary: both parse, and the key is the certificate's. Messages name the option.
 */
export function loadCertificate(cert: string, key: string, names: { cert: string; key: string }): ServerCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new BadOptionError(names.cert, `${names.cert} holds no PEM certificate (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key });
    // OpenSSL notices a mismatch only between keys of one type: an EC key for an RSA certificate
    // passes createSecureContext and then fails every handshake, so the key is compared here.
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('key values mismatch');
  } catch (err) {
    throw new BadOptionError(
      names.key,
      `${names.key} is not the private key of ${names.cert} or not a PEM key (${(err as Error).message})`,
    );
  }
  return describe(cert, key, false, x509);
}

function describe(cert: string, key: string, generated: boolean, x509 = new X509Certificate(cert)): ServerCertificate {
  return {
    cert,
    key,
    fingerprint256: x509.fingerprint256,
    subjectAltName: x509.subjectAltName ?? '',
    generated,
  };
}
