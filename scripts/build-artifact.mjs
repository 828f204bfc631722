#!/usr/bin/env node
// Builds the deployable kalab artifact: one tarball holding a self-contained folder `kalab/`
// (bin/kalab.js, dist/, node_modules with every runtime dependency, no dev tools) that runs
// on any machine with Node >= 20.18 and nothing else:
//
//   tar xzf kalab-<version>.tgz && node kalab/bin/kalab.js loadgen --agent --monitor ws://HOST:7070/ws --token T
//
// Usage: pnpm artifact [-- --out DIR]   (builds the workspace first; default DIR: ./artifacts)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outDir = resolve(outAt >= 0 && args[outAt + 1] ? args[outAt + 1] : join(root, 'artifacts'));

const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const cliPkg = JSON.parse(readFileSync(join(root, 'apps/cli/package.json'), 'utf8'));
const pnpmVersion = rootPkg.packageManager.split('@')[1];

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (r.status !== 0) {
    process.stderr.write(`build-artifact: ${cmd} ${argv.join(' ')} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
  return r;
}

// The pnpm that runs this script (pnpm artifact), else the pinned one through npx.
const pnpm = process.env.npm_execpath?.includes('pnpm')
  ? [process.execPath, [process.env.npm_execpath]]
  : ['npx', ['-y', `pnpm@${pnpmVersion}`]];

// Every workspace package the CLI ships must be built (`pnpm artifact` builds them first).
for (const pkg of readdirSync(join(root, 'packages'))) {
  if (!existsSync(join(root, 'packages', pkg, 'dist', 'index.js'))) {
    process.stderr.write(`build-artifact: packages/${pkg} is not built; run \`pnpm artifact\` (it builds first)\n`);
    process.exit(1);
  }
}

const staging = mkdtempSync(join(tmpdir(), 'kalab-artifact-'));
try {
  const folder = join(staging, 'kalab');
  // pnpm 10 deploys a non-injected workspace only with --legacy (docs/contracts.md).
  run(pnpm[0], [...pnpm[1], '--filter', 'kalab', 'deploy', '--prod', '--legacy', folder], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  writeFileSync(
    join(folder, 'ARTIFACT.json'),
    `${JSON.stringify({ name: 'kalab', version: cliPkg.version, commit: commit || null, node: cliPkg.engines.node, run: 'node kalab/bin/kalab.js --help' }, null, 2)}\n`,
  );
  mkdirSync(outDir, { recursive: true });
  const tarball = join(outDir, `kalab-${cliPkg.version}.tgz`);
  run('tar', ['-czf', tarball, '-C', staging, 'kalab']);
  const mib = (statSync(tarball).size / 1048576).toFixed(1);
  process.stdout.write(`${tarball}\n`);
  process.stderr.write(`build-artifact: ${tarball} (${mib} MiB); run it with: tar xzf ${tarball} && node kalab/bin/kalab.js --help\n`);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
