import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { onCleanup, run, startLab, waitUntil } from './helpers.js';

const noCapture =
  missing('root (tcpdump on loopback)', process.platform === 'linux' && isRoot()) ||
  missing('tcpdump', hasCommand('tcpdump'));

/**
 * Counts client SYNs (SYN without ACK) to the lab's port on loopback, like the article's
 * tcpdump. `live` is the ledger's count just before the first dial the capture saw, so
 * `ledger.opened - live` and `syns` count the same span of time.
 */
async function startSynCapture(lab: {
  port: number;
  ledger: { opened: number };
}): Promise<{ live: number; syns: () => number; stop: () => Promise<number> }> {
  const filter = `tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst port ${lab.port}`;
  // -l and --immediate-mode: every packet is printed as it is captured (with TPACKET_V3 they
  // otherwise wait in a ring block for up to a second and are lost when tcpdump stops).
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-n', '-l', '--immediate-mode', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let syns = 0;
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    syns += lines.filter((l) => l.includes(' Flags [S]')).length;
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  // "listening on" can come a moment before packets flow: dial until the capture sees one.
  let live = -1;
  for (let attempt = 0; attempt < 50 && live < 0; attempt++) {
    const before = lab.ledger.opened;
    await dialAndLeave(lab.port);
    const deadline = Date.now() + 200;
    while (syns === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (syns > 0) live = before;
  }
  if (live < 0) throw new Error('the capture never saw a SYN');
  return {
    live,
    syns: () => syns,
    async stop() {
      // A last dial: once the capture prints it, every earlier SYN has been printed too.
      const before = syns;
      await dialAndLeave(lab.port);
      await waitUntil('the closing dial in the capture', () => syns > before);
      child.kill('SIGINT');
      return syns;
    },
  };
}

/** Builds the article's Go clients in a temp dir (GOPATH mode, no module download). */
async function buildGoClient(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-go-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(new URL('./fixtures/article-client.go', import.meta.url), join(dir, 'main.go'));
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOFLAGS: '',
    GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'kalab-go-cache'),
  };
  const r = await run('go', ['build', '-o', join(dir, 'article-client'), join(dir, 'main.go')], {
    env,
    cwd: dir,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`go build failed: ${r.stderr}`);
  return join(dir, 'article-client');
}

/** Dials, never sends a byte, and hangs up: a connection no request ever used. */
function dialAndLeave(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end());
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

describe.skipIf(noCapture)('the ledger agrees with the packets: connections opened = SYNs captured', () => {
  it.skipIf(missing('curl', hasCommand('curl')))(
    'curl (separate runs and one run reusing its connection) and a dial that is never used',
    async () => {
      const lab = await startLab();
      const capture = await startSynCapture(lab);
      const base = lab.ledger.opened;
      for (let i = 0; i < 3; i++) expect((await run('curl', ['-s', '-o', '/dev/null', lab.url])).code).toBe(0);
      // One curl run with four URLs reuses its one connection.
      expect(
        (
          await run('curl', [
            '-s',
            '-o',
            '/dev/null',
            '-o',
            '/dev/null',
            '-o',
            '/dev/null',
            '-o',
            '/dev/null',
            lab.url,
            lab.url,
            lab.url,
            lab.url,
          ])
        ).code,
      ).toBe(0);
      await dialAndLeave(lab.port);
      await waitUntil('connections closed', () => lab.ledger.openCount === 0);
      expect(lab.ledger.opened - base).toBe(5);
      const syns = await capture.stop();
      await waitUntil('connections closed', () => lab.ledger.openCount === 0);
      expect(lab.ledger.opened - capture.live).toBe(syns);
      expect(lab.stats().requests.total).toBe(7);
      expect(
        lab.ledger
          .recentlyClosed()
          .slice(-6, -1)
          .map((c) => c.requests),
      ).toEqual([1, 1, 1, 4, 0]);
    },
  );

  it.skipIf(missing('go', hasCommand('go')))("Go's net/http client: the article's three experiments", async () => {
    const client = await buildGoClient();
    const lab = await startLab({ delayUs: 50 });
    const capture = await startSynCapture(lab);
    const results: Record<string, number> = {};
    for (const mode of ['unread', 'read', 'concurrent']) {
      const before = lab.ledger.opened;
      const r = await run(client, [lab.url, mode], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      // The program has exited: every connection it opened is closed (and so counted).
      await waitUntil(`${mode}: connections closed`, () => lab.ledger.openCount === 0);
      results[mode] = lab.ledger.opened - before;
    }
    const syns = await capture.stop();
    await waitUntil('connections closed', () => lab.ledger.openCount === 0);
    expect(lab.ledger.opened - capture.live).toBe(syns);
    expect(results.unread).toBe(10);
    expect(results.read).toBe(1);
    // Go keeps at most 2 idle connections per host: 10 workers churn through more than 10.
    expect(results.concurrent).toBeGreaterThanOrEqual(10);
    expect(lab.stats().requests.total).toBe(120);
  });
});
