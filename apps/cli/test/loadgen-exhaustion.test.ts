import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ReportSchema } from '@kalab/protocol';
import { describe, expect, it } from 'vitest';
import { missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
/** Inside the namespace only: an odd port no other test on the host uses. */
const NS_PORT = 47913;

// Port exhaustion only ever happens inside a private network namespace (the lab never exhausts the host).
// Skipped where the platform cannot do it (no user namespaces, read-only /proc/sys), never faked.
const NS_SETUP =
  'ip link set lo up && echo "20000 20999" > /proc/sys/net/ipv4/ip_local_port_range && echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse';
const canUnshare = process.platform === 'linux' && spawnSync('unshare', ['-rn', 'sh', '-c', NS_SETUP]).status === 0;

const SERVER = `require('node:http').createServer((q, s) => s.end('Hello world')).listen(${NS_PORT}, '127.0.0.1')`;

/**
 * Runs `kalab loadgen --no-keepalive` and a server inside `unshare -rn`: lo up,
 * ip_local_port_range narrowed to 1,000 ports, tcp_tw_reuse=0. Returns the JSON report.
 */
function exhaust(extra: string[]): ReturnType<typeof ReportSchema.parse> & {
  firstErrors?: Record<string, { atMs: number; afterConnections: number }>;
} {
  const script = [
    'set -e',
    'ip link set lo up',
    'echo "20000 20999" > /proc/sys/net/ipv4/ip_local_port_range',
    'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse',
    `"$NODE" -e "$SERVER" & SRV=$!`,
    `for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/${NS_PORT}) 2>/dev/null && break; sleep 0.1; done`,
    `"$NODE" "$KALAB" loadgen http://127.0.0.1:${NS_PORT}/ --no-keepalive -c 16 -w 1 -d 6s --json "$@"`,
    'kill $SRV',
  ].join('\n');
  const r = spawnSync('unshare', ['-rn', 'bash', '-c', script, 'ns', ...extra], {
    env: { ...process.env, NODE: process.execPath, KALAB, SERVER },
    encoding: 'utf8',
    timeout: 40_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  ReportSchema.parse(report);
  return report;
}

function hostHasPort(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const tables = ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  });
  return tables.some((t) => t.includes(hex));
}

describe.skipIf(missing('unshare -rn (user namespaces)', canUnshare))('port exhaustion inside unshare -rn', () => {
  const hostRange = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');

  it('--no-keepalive exhausts a 1,000-port range: EADDRNOTAVAIL within 10 s, host untouched; 4 source addresses last ~4x longer', () => {
    const one = exhaust([]);
    expect(one.errors['EADDRNOTAVAIL']).toBeGreaterThan(0);
    expect(one.firstErrors?.['EADDRNOTAVAIL']?.atMs).toBeLessThan(10_000);
    expect(one.host.ephemeralRange).toEqual([20000, 20999]);
    expect(one.host.timeWaitPeak).toBeGreaterThan(900);
    expect(one.findings.map((f) => f.id)).toContain('ephemeral-ports-exhausted');
    // About one connection per port of the range before the first failure.
    const before1 = one.firstErrors!['EADDRNOTAVAIL']!.afterConnections;
    expect(before1).toBeGreaterThan(900);
    expect(before1).toBeLessThanOrEqual(1000);

    // With a bound source address, a full range fails in bind(): EADDRINUSE.
    const four = exhaust(['--local-address', '127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4']);
    const code = four.firstErrors?.['EADDRINUSE'] ? 'EADDRINUSE' : 'EADDRNOTAVAIL';
    const first4 = four.firstErrors?.[code];
    expect(first4, JSON.stringify(four.errors)).toBeDefined();
    const ratio = first4!.afterConnections / before1;
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(6);
    // Time to the first failure grows too (noisy machine: a loose bound).
    expect(first4!.atMs).toBeGreaterThan(one.firstErrors!['EADDRNOTAVAIL']!.atMs * 1.5);

    // The host's own range and table never saw any of it.
    expect(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).toBe(hostRange);
    expect(hostHasPort(NS_PORT)).toBe(false);
  });
});
