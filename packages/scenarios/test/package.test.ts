import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canUnshareNet, missing } from '../../../test/support/needs.js';

// A package "works when installed from its packed tarball into an unrelated project".
// pnpm packs @kalab/scenarios and its workspace dependencies (workspace:* becomes their version),
// npm installs the five tarballs into a plain project outside the workspace (third-party
// dependencies from the registry), and the README's example runs there. Needs dist/ (CI builds first).
const packages = fileURLToPath(new URL('../..', import.meta.url));
const OURS = ['core', 'protocol', 'server', 'loadgen', 'scenarios'];
const registry = spawnSync('npm', ['ping'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
const skip =
  missing('the npm registry (npm ping), for the packed packages’ third-party dependencies', registry) ||
  missing('a private network namespace (unshare -rn)', canUnshareNet());

const work = mkdtempSync(join(tmpdir(), 'kalab-scenarios-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skip)('@kalab/scenarios packed with core, protocol, server and loadgen', () => {
  const tarballs: string[] = [];

  it('packs dist (the child and the busy-client worker included), the README, no tests and no workspace: ranges', () => {
    for (const name of OURS) {
      execFileSync('pnpm', ['pack', '--pack-destination', work], {
        cwd: join(packages, name),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    tarballs.push(...readdirSync(work).filter((f) => f.endsWith('.tgz')));
    expect(tarballs.sort()).toEqual([
      'kalab-core-0.1.0.tgz',
      'kalab-loadgen-0.1.0.tgz',
      'kalab-protocol-0.1.0.tgz',
      'kalab-scenarios-0.1.0.tgz',
      'kalab-server-0.1.0.tgz',
    ]);
    const tgz = join(work, 'kalab-scenarios-0.1.0.tgz');
    const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).split('\n');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/child.js', 'dist/drivers/busy-client.js', 'README.md'])
      expect(files).toContain(`package/${f}`);
    expect(files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/'))).toBe(false);
    const manifest = JSON.parse(execFileSync('tar', ['xzfO', tgz, 'package/package.json'], { encoding: 'utf8' })) as {
      dependencies: Record<string, string>;
    };
    expect(manifest.dependencies).toMatchObject({
      '@kalab/core': '0.1.0',
      '@kalab/protocol': '0.1.0',
      '@kalab/server': '0.1.0',
      '@kalab/loadgen': '0.1.0',
    });
  });

  it("installs into a plain npm project and runs runScenario('seq-read-body'): 1 connection, 1 SYN, pass", () => {
    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', ...tarballs.map((t) => join(work, t))], {
      cwd: project,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    });
    writeFileSync(
      join(project, 'use.mjs'),
      `import { listScenarios, runScenario } from '@kalab/scenarios';
       const r = await runScenario('seq-read-body');
       console.log(JSON.stringify({ scenarios: listScenarios().length, mode: r.sandbox.mode, pass: r.pass,
         connectionsOpened: r.observed.connectionsOpened, synSent: r.observed.synSent }));`,
    );
    const out = execFileSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      scenarios: 12,
      mode: 'namespace',
      pass: true,
      connectionsOpened: 1,
      synSent: 1,
    });
  });
});
