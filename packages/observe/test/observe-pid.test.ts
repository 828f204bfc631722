import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ObserveReport, ObserveReportSchema, observeCommand, observePid } from '../src/index.js';
import { buildGo, cannotCapture, LAB_SERVER, quiet, tcpdumpSyns } from './helpers.js';

/** The pid of the one process whose command line starts with `path` (the test's own binary in a temp dir). */
function pidOf(path: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').startsWith(`${path}\0`)) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}

/**
 * The Go client runs under `kalab observe --serve 8080 --capture` (its own namespace, the lab
 * server, a tcpdump of every SYN) while a second observer attaches to it with --pid from outside.
 */
async function attach(
  dir: string,
  name: string,
  args: string[],
): Promise<{ inner: ObserveReport; outer: ObserveReport }> {
  const bin = join(dir, name);
  const { copyFileSync } = await import('node:fs');
  copyFileSync(join(dir, 'bin', 'pid-client'), bin); // a path of its own, to find its pid by
  const outerRun = observeCommand({
    command: quiet([bin, ...args]),
    serve: 8080,
    labServer: LAB_SERVER,
    capture: join(dir, `${name}.pcap`),
  });
  const pid = await vi.waitFor(
    () => {
      const p = pidOf(bin);
      if (p === undefined) throw new Error(`${bin} not started yet`);
      return p;
    },
    { timeout: 10_000, interval: 20 },
  );
  const inner = await observePid({ pid });
  return { inner, outer: await outerRun };
}

const skip = cannotCapture(true);

describe.skipIf(skip)('kalab observe --pid on a running Go client', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kalab-observe-pid-'));
    buildGo(join(dir, 'bin'));
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('2,000 sequential requests with unread bodies over 20 s: new connections within 1% of the SYNs tcpdump saw', async () => {
    const { inner, outer } = await attach(dir, 'unread-client', ['-n', '2000', '-d', '20s']);
    expect(ObserveReportSchema.parse(inner)).toEqual(inner);
    expect(outer.exitCode).toBe(0);
    const syns = tcpdumpSyns(join(dir, 'unread-client.pcap'));
    expect(syns).toBe(outer.synSent);
    expect(syns).toBeGreaterThanOrEqual(2000);
    expect(Math.abs(inner.connections.opened - syns)).toBeLessThanOrEqual(syns * 0.01);
    expect(inner.remotes[0]?.remote).toBe('127.0.0.1:8080');
    expect(inner.mode).toBe('pid');
    expect(inner.synSent).toBeNull();
    expect(inner.samples).toBeGreaterThan(100);
    expect(inner.findings.map((f) => f.id)).toContain('observe-no-reuse');
  }, 120_000);

  it('a keep-alive client (bodies read and closed): 1 connection', async () => {
    const { inner, outer } = await attach(dir, 'keepalive-client', ['-n', '200', '-d', '3s', '-read']);
    expect(outer.exitCode).toBe(0);
    expect(tcpdumpSyns(join(dir, 'keepalive-client.pcap'))).toBe(1);
    expect(inner.connections.opened).toBe(1);
    expect(inner.remotes).toMatchObject([{ remote: '127.0.0.1:8080', opened: 1, peakOpen: 1 }]);
    expect(outer.serve).toMatchObject({ connections: 1, requests: 200 });
  }, 60_000);
});
