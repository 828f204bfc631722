import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadOptionError, FILE_READ_LIMIT, readBounded } from '../src/index.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kalab-read-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readBounded: the one reader of every file a user names', () => {
  it('reads a small regular file whole', () => {
    const f = join(dir, 'small.pem');
    writeFileSync(f, 'hello');
    expect(readBounded('--cert', f).toString()).toBe('hello');
  });

  it('refuses /dev/zero at once instead of reading it forever, naming the flag', () => {
    const t = Date.now();
    expect(() => readBounded('--cert', '/dev/zero')).toThrow(
      new BadOptionError('--cert', '--cert "/dev/zero" is not a regular file'),
    );
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('refuses a FIFO without blocking on its open (no writer ever comes)', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => readBounded('FILE', fifo)).toThrow(/^FILE ".*fifo" is not a regular file$/);
  });

  it('refuses a directory and a missing file with the errno', () => {
    mkdirSync(join(dir, 'd'));
    expect(() => readBounded('--key', join(dir, 'd'))).toThrow(/--key ".*d" is a directory, not a file/);
    expect(() => readBounded('--key', join(dir, 'missing'))).toThrow(/--key cannot read ".*missing" \(ENOENT\)/);
  });

  it('refuses a 100 MB file by its size, without reading it, and the limit is 1 MiB unless given', () => {
    const big = join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 100_000_000);
    expect(() => readBounded('--cert', big)).toThrow(
      /--cert ".*big" is 100000000 bytes, more than the 1048576-byte limit/,
    );
    const edge = join(dir, 'edge');
    writeFileSync(edge, Buffer.alloc(FILE_READ_LIMIT, 0x61));
    expect(readBounded('--ca', edge)).toHaveLength(FILE_READ_LIMIT);
    writeFileSync(edge, Buffer.alloc(11, 0x61));
    expect(() => readBounded('--body-file', edge, 10)).toThrow(/is 11 bytes, more than the 10-byte limit/);
  });
});
