import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObserveReport, ObserveReportSchema, observeCommand } from '../src/index.js';
import { buildGo, cannotCapture, quiet, tcpdumpSyns } from './helpers.js';

const skip = cannotCapture(true);

describe.skipIf(skip)("the article's four Go programs under kalab observe", () => {
  let dir = '';
  const reports = new Map<string, ObserveReport>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kalab-observe-go-'));
    buildGo(join(dir, 'bin'));
    // Each program gets its own namespace, so all four can use port 8080 at once.
    const names = ['seq-unread', 'seq-read', 'concurrent-default', 'concurrent-tuned'];
    await Promise.all(
      names.map(async (name) => {
        const report = await observeCommand({
          // 100 ms between requests instead of the article's 1 s: each response is long done by then.
          command: quiet(['env', 'KALAB_GAP_MS=100', join(dir, 'bin', name)]),
          capture: join(dir, `${name}.pcap`),
        });
        reports.set(name, report);
      }),
    );
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function check(name: string): ObserveReport {
    const r = reports.get(name)!;
    expect(ObserveReportSchema.parse(r)).toEqual(r);
    expect(r.exitCode).toBe(0);
    // Three counts of the same SYNs: the namespace kernel's, the lab's pcap reader's, tcpdump's own.
    expect(r.connections.opened).toBe(r.synSent);
    expect(r.capture?.syn).toBe(r.synSent);
    expect(tcpdumpSyns(join(dir, `${name}.pcap`))).toBe(r.synSent);
    expect(r.capture?.dropped).toBe(0);
    return r;
  }

  it('10 sequential requests with unread bodies open 10 connections and leave 10 TIME_WAIT', () => {
    const r = check('seq-unread');
    expect(r.synSent).toBe(10);
    expect(r.connections.accepted).toBe(10);
    expect(r.timeWait.total).toBe(10);
    expect(r.remotes.find((x) => x.remote === '127.0.0.1:8080')).toMatchObject({ opened: 10, timeWait: 10 });
    expect(r.lives).toHaveLength(10);
    expect(r.capture?.requests).toBe(10);
    expect(r.findings.map((f) => f.id)).toContain('observe-no-reuse');
    expect(r.findings.find((f) => f.id === 'observe-no-reuse')?.message).toMatch(
      /^10 connections to 127\.0\.0\.1:8080 in 1\d s .*nothing was reused — is a new client \(and pool\) made per request .*, or are response bodies left unread or unclosed\?$/,
    );
  });

  it('10 sequential requests with bodies read use 1 connection (one SYN in the capture)', () => {
    const r = check('seq-read');
    expect(r.synSent).toBe(1);
    expect(r.lives).toHaveLength(1);
    expect(r.lives[0]?.packets).toMatchObject({ syn: 1, requests: 10 });
    expect(r.findings.map((f) => f.id)).toContain('observe-reused');
  });

  it('10 goroutines x 10 requests with the default pool open more than 10 connections', () => {
    const r = check('concurrent-default');
    // Each round 10 connections are in use and only 2 go back to the idle pool: ~8 new ones a round.
    expect(r.synSent).toBeGreaterThan(20);
    expect(r.capture?.requests).toBe(100);
    // 10 goroutines in flight: 10 open at the peak, 9 when one got a returning idle connection
    // while it dialled (Go's Transport; seen under CI load).
    expect(r.remotes[0]).toMatchObject({ remote: '127.0.0.1:8080' });
    expect(r.remotes[0]!.peakOpen).toBeGreaterThanOrEqual(8);
    expect(r.remotes[0]!.peakOpen).toBeLessThanOrEqual(10);
    expect(r.findings.map((f) => f.id)).toContain('observe-pool-churn');
  });

  it('10 goroutines x 10 requests with MaxIdleConnsPerHost 10 open at most 10 connections and never churn', () => {
    const r = check('concurrent-tuned');
    // 10 when every goroutine dials before a first response comes back (the article's count). Go's
    // Transport gives a goroutine that is still dialling an idle connection that returns first, so
    // on a loaded machine 9 happens (seen in CI). What the tuned pool guarantees, and what tells it
    // from the default pool's > 20: no connection is closed while the program runs — every one
    // opened is open at the peak, and each leaves its one TIME_WAIT only at exit.
    expect(r.synSent).toBeGreaterThanOrEqual(8);
    expect(r.synSent).toBeLessThanOrEqual(10);
    expect(r.capture?.requests).toBe(100);
    expect(r.remotes[0]).toMatchObject({
      remote: '127.0.0.1:8080',
      opened: r.synSent,
      peakOpen: r.synSent,
      timeWait: r.synSent,
    });
    expect(r.findings.map((f) => f.id)).toEqual(['observe-reused']);
  });
});
