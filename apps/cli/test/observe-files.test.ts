import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canUnshareNet, hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { runKalab } from './helpers/run-kalab.js';

const kalab = (args: string[]) => runKalab(args);

const dir = mkdtempSync(join(tmpdir(), 'kalab-observe-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Owner, group, mode and type of a path: what `--capture` must never change for a file it refuses. */
function identity(path: string): string {
  const st = statSync(path);
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${st.isCharacterDevice() ? 'chr' : st.isFile() ? 'file' : 'other'} ${st.rdev}`;
}

describe('kalab observe --capture writes only a new file or an earlier capture', () => {
  it('/dev/null, /dev/zero and /dev/full are refused (exit 2, one line), their owner and mode unchanged', async () => {
    for (const dev of ['/dev/null', '/dev/zero', '/dev/full']) {
      const before = identity(dev);
      const r = await kalab(['observe', '--capture', dev, '--', 'true']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(
        `kalab: --capture "${dev}" is not a regular file: give the name of a new file (kalab writes only new captures or its own)`,
      );
      expect(identity(dev)).toBe(before);
    }
    expect(identity('/dev/null')).toMatch(/^0:0 666 chr /);
  });

  it('with --serve too (it used to end in exit 70 "not a pcap file")', async () => {
    const r = await kalab(['observe', '--capture', '/dev/null', '--serve', '18081', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/internal error|not a pcap/);
  });

  it("a FIFO, a directory, a link, a non-pcap file and another user's pcap are refused and left as they were", async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'keep me\n');
    const link = join(dir, 'link.pcap');
    symlinkSync('/dev/null', link);
    const cases: Array<[string, RegExp]> = [
      [fifo, /is not a regular file/],
      [dir, /is a directory/],
      [text, /exists and is not a pcap capture/],
      [link, /is a symbolic link/],
      [join(dir, 'no-such-dir', 'x.pcap'), /the directory .* does not exist/],
    ];
    if (isRoot()) {
      const theirs = join(dir, 'theirs.pcap');
      writeFileSync(theirs, Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'));
      chownSync(theirs, 65534, 65534);
      cases.push([theirs, /belongs to uid 65534, not to this user \(uid 0\)/]);
    }
    for (const [file, message] of cases) {
      const r = await kalab(['observe', '--capture', file, '--', 'true']);
      expect(r.code, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(text, 'utf8')).toBe('keep me\n');
  });
});

describe('kalab observe: flags that do not apply, ranges the kernel refuses, messages naming the flag', () => {
  it('--serve, --capture, --port-range, --tw-reuse with --pid are exit 2 naming the flag', async () => {
    for (const [flag, value] of [
      ['--serve', '8080'],
      ['--capture', join(dir, 'x.pcap')],
      ['--port-range', '2000-3000'],
      ['--tw-reuse', '1'],
    ]) {
      const r = await kalab(['observe', '--pid', '1', flag!, value!]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(`kalab: ${flag} goes with a COMMAND run in a namespace, not with --pid`);
    }
  });

  it('--port-range 1000-2000 and 5-5 are exit 2 saying the kernel needs 1024 (was exit 70)', async () => {
    for (const range of ['1000-2000', '5-5']) {
      const r = await kalab(['observe', '--port-range', range, '--', 'true']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `kalab: --port-range must be LOW-HIGH within 1024-65535 (the kernel refuses a low bound under 1024), got "${range}"`,
      );
    }
  });

  it('--duration 0 and --interval 0 name their flag and the range that excludes 0', async () => {
    const d = await kalab(['observe', '--duration', '0', '--', 'true']);
    expect(d.code).toBe(2);
    expect(d.stderr.trim()).toBe('kalab: --duration must be a duration from 1ms to 2147483647ms (~24.8 days), got "0"');
    const i = await kalab(['observe', '--interval', '0', '--', 'true']);
    expect(i.code).toBe(2);
    expect(i.stderr.trim()).toBe(
      'kalab: --interval must be a duration from 10ms to 2147483647ms (~24.8 days), got "0"',
    );
  });
});

describe.skipIf(missing('unshare -rn (user namespaces)', canUnshareNet()))('kalab observe --json', () => {
  it('the JSON stands on a line of its own after output without a newline (printf abc)', async () => {
    const r = await kalab(['observe', '--json', '--', 'printf', 'abc']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('abc');
    expect(JSON.parse(lines.at(-2)!).schema).toBe('kalab.observe/v1');
    expect(lines.at(-1)).toBe('');
  });
});

describe.skipIf(missing('root and tcpdump', isRoot() && hasCommand('tcpdump')))(
  'kalab observe --capture as root',
  () => {
    it('a new file is created by root, not chowned to tcpdump, and an earlier capture may be written again', async () => {
      const file = join(dir, 'run.pcap');
      const first = await kalab([
        'observe',
        '--capture',
        file,
        '--serve',
        '18082',
        '--',
        'curl',
        '-s',
        '-o',
        '/dev/null',
        'http://127.0.0.1:18082/',
      ]);
      expect(first.code, first.stderr).toBe(0);
      const st = statSync(file);
      expect([st.uid, st.gid]).toEqual([0, 0]);
      expect(first.stderr).toMatch(/capture .*run\.pcap: \d+ packets, 1 connections, SYN 1, SYN-ACK 1/);
      const again = await kalab(['observe', '--capture', file, '--', 'true']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/capture .*run\.pcap: 0 packets/);
      // No temporary directory of tcpdump's is left behind.
      expect(statSync(file).uid).toBe(0);
    });
  },
);
