import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missing } from '../../../test/support/needs.js';
import { hasRegistry, installTarballs, packWorkspace, tarballContents } from '../../../test/support/packed.js';

// @kalab/doctor packed with @kalab/core, installed into a plain npm project outside the
// workspace: its README's example runs there (probeKeepAlive against a loopback server).
const skip = missing('the npm registry (npm ping), for @kalab/core’s third-party dependencies', hasRegistry());
const work = mkdtempSync(join(tmpdir(), 'kalab-doctor-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe.skipIf(skip)('@kalab/doctor packed with @kalab/core', () => {
  let tarballs: string[] = [];

  it('packs dist with types and the README, no tests or sources, and @kalab/core as a version range', () => {
    tarballs = packWorkspace(['core', 'doctor'], work);
    expect(tarballs).toEqual(['kalab-core-0.1.0.tgz', 'kalab-doctor-0.1.0.tgz']);
    const { files, manifest } = tarballContents(join(work, 'kalab-doctor-0.1.0.tgz'));
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/probe.js', 'README.md', 'package.json'])
      expect(files).toContain(`package/${f}`);
    expect(files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/'))).toBe(false);
    expect(manifest.dependencies).toEqual({ '@kalab/core': '0.1.0' });
    expect(tarballContents(join(work, 'kalab-core-0.1.0.tgz')).files).toContain('package/dist/http1/index.js');
  });

  it('runs the README example in a plain npm project: probeKeepAlive measures a 2 s idle close', () => {
    const project = join(work, 'consumer');
    installTarballs(
      project,
      tarballs.map((t) => join(work, t)),
    );
    const example = /```js\n([\s\S]*?)```/.exec(README)![1]!;
    writeFileSync(join(project, 'readme.mjs'), example);
    const out = execFileSync(process.execPath, ['readme.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/keepAlive: true/);
    expect(out).toMatch(/advertisedKeepAlive: 'timeout=1'/);
    const idle = Number(/idleTimeoutMs: (\d+)/.exec(out)?.[1]);
    expect(Math.abs(idle - 2_000), `measured ${idle} ms, expected 2000 ±10%`).toBeLessThanOrEqual(200);
    expect(out).toMatch(/\n {2}idle timeout {13}\d+ ms \(FIN/);

    // The package's own entry points, as a consumer imports them.
    writeFileSync(
      join(project, 'api.mjs'),
      `import * as doctor from '@kalab/doctor';
       import { Http1ResponseParser } from '@kalab/core/http1';
       console.log(JSON.stringify({ exports: Object.keys(doctor).sort(), parser: typeof Http1ResponseParser }));`,
    );
    const api = JSON.parse(execFileSync(process.execPath, ['api.mjs'], { cwd: project, encoding: 'utf8' }));
    expect(api.parser).toBe('function');
    expect(api.exports).toEqual(
      expect.arrayContaining(['probeKeepAlive', 'doctorJson', 'formatDoctor', 'recommend', 'DOCTOR_DEFAULTS']),
    );
  });
});
