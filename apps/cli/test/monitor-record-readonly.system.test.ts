import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { KALAB } from './helpers/run-kalab.js';

// A directory nobody can write to, even root: a read-only tmpfs mounted over it in a mount
// namespace of this test's own (unshare -m), so the host's mounts are untouched.
describe.skipIf(
  missing('root (a read-only mount in a private mount namespace)', isRoot()) ||
    missing('unshare (util-linux)', hasCommand('unshare')),
)('kalab monitor --record on a read-only directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-ro-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is exit 2 at start, one line naming --record and EROFS, and no file is written', () => {
    const r = spawnSync(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        `mount -t tmpfs -o ro none "$0" && exec "${process.execPath}" "${KALAB}" monitor --record "$0" --listen 127.0.0.1:0`,
        dir,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`kalab: --record: cannot write to ${dir}: EROFS`]);
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });
});
