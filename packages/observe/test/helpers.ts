import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canUnshareNet, hasCommand, isRoot, missing } from '../../../test/support/needs.js';

/** The lab server `serve` starts inside the namespace (the CLI passes `@kalab/server`'s built entry too). */
export const LAB_SERVER = new URL('../../server/dist/index.js', import.meta.url).href;
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** SYNs (without ACK) in a capture, counted by tcpdump itself: a count independent of the lab's pcap reader. */
export function tcpdumpSyns(file: string): number {
  const out = execFileSync(
    'tcpdump',
    ['-r', file, '-nn', 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

/**
 * Builds the Go fixtures into `outDir`. GOCACHE and GOPATH live in the temp dir (HOME may be
 * unset under CI) and are kept between runs; stdlib-only programs need no network.
 */
export function buildGo(outDir: string): void {
  const cache = join(tmpdir(), 'kalab-observe-go');
  mkdirSync(cache, { recursive: true });
  const r = spawnSync('go', ['build', '-o', `${outDir}/`, './...'], {
    cwd: join(FIXTURES, 'go'),
    encoding: 'utf8',
    env: {
      ...process.env,
      GOCACHE: join(cache, 'cache'),
      GOPATH: join(cache, 'path'),
      GOFLAGS: '-mod=mod',
      CGO_ENABLED: '0',
    },
  });
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr || r.error?.message}`);
}

/** Runs a command with its output thrown away (the observer passes stdio through; tests keep theirs quiet). */
export function quiet(argv: string[]): string[] {
  return ['sh', '-c', 'exec "$@" >/dev/null 2>&1', 'sh', ...argv];
}

/** Whether a test that captures inside the namespace must skip (tcpdump, user namespaces, root; and go when asked). */
export function cannotCapture(withGo = false): boolean {
  return (
    (withGo && missing('go (golang-go)', hasCommand('go'))) ||
    missing('tcpdump', hasCommand('tcpdump')) ||
    missing('unshare -rn (user namespaces)', canUnshareNet()) ||
    missing('root (tcpdump inside the namespace)', isRoot())
  );
}
