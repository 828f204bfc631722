import { Option } from 'commander';

/** The TLS flags of every command that connects to an https:// target (loadgen, doctor): one definition. */
export interface TlsFlags {
  insecure?: boolean;
  ca?: string;
  servername?: string;
}

const TLS_OPTIONS = {
  insecure: ['-k, --insecure', 'https://: accept any certificate (self-signed, wrong name), as curl -k'],
  ca: ['--ca <file>', 'https://: trust the PEM certificates in this file (at most 1 MiB)'],
  servername: ['--servername <name>', 'https://: SNI name and the name the certificate must carry'],
} as const satisfies Record<keyof TlsFlags, readonly [string, string]>;

/** A fresh commander Option for one TLS flag (commander keeps per-command state in an Option). */
export function tlsOption(name: keyof TlsFlags): Option {
  const [flags, description] = TLS_OPTIONS[name];
  return new Option(flags, description);
}
