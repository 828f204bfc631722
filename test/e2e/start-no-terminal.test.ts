import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../apps/cli/bin/kalab.js', import.meta.url));

describe('kalab start without a terminal', () => {
  for (const command of [['start'], ['dashboard', 'ws://127.0.0.1:7070/ws']]) {
    it(`kalab ${command[0]} exits 2 and names the headless commands`, () => {
      // stdin and stdout are pipes here, as in CI.
      const r = spawnSync(process.execPath, [BIN, ...command], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('needs a terminal');
      for (const headless of [
        'kalab server',
        'kalab loadgen',
        'kalab monitor',
        'kalab scenario',
        'kalab netstat',
        'kalab doctor',
      ]) {
        expect(r.stderr).toContain(headless);
      }
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});
