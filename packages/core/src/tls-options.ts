import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { BadOptionError } from './errors.js';
import { printable } from './options.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * `--ca`: one or more PEM certificates, each of which must parse. Node's TLS stack skips a
 * block it cannot read without a word, so PEM armour around garbage would otherwise turn
 * into "unable to verify the first certificate" on every connection of the run.
 */
export function checkCaPem(flag: string, pem: unknown): string {
  const blocks = typeof pem === 'string' ? (pem.match(PEM_BLOCK) ?? []) : [];
  if (blocks.length === 0)
    throw new BadOptionError(flag, `${flag} must hold PEM certificates (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new BadOptionError(
        flag,
        `${flag} certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate (${(err as Error).message})`,
      );
    }
  });
  return pem as string;
}

/**
 * `--servername`: a DNS name sent as SNI and checked against the certificate. An IP address
 * is refused: SNI carries host names only (RFC 6066), and Node warns (DEP0123) on each try.
 */
export function checkServername(flag: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(name))
    throw new BadOptionError(flag, `${flag} must be a DNS name, got "${printable(String(name))}"`);
  if (isIP(name) !== 0)
    throw new BadOptionError(
      flag,
      `${flag} must be a DNS name, not an IP address (SNI carries names only; leave it out to connect to ${name})`,
    );
  return name;
}

/** OpenSSL's verify codes and node's name check: the certificate, not the connection, failed. */
export function isCertificateError(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}

/** Which TLS flag would get past a certificate error (by Node's error code); null for any other error. */
export function certificateHint(code: string | undefined): string | null {
  if (code === undefined || !isCertificateError(code)) return null;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return '--servername NAME names one the certificate carries, --insecure accepts any certificate';
  return '--insecure accepts any certificate, --ca FILE trusts the one that signed it';
}
