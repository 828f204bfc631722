import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A package "works when installed from its packed tarball into an unrelated
 * project". These helpers pack workspace packages with pnpm (workspace:* becomes their
 * version) and npm-install the tarballs into a plain project outside the workspace, its
 * third-party dependencies from the registry. They need each package's dist/ (CI builds first).
 */
const PACKAGES = fileURLToPath(new URL('../../packages', import.meta.url));

/** Whether the npm registry answers (the packed packages' third-party dependencies come from it). */
export function hasRegistry(): boolean {
  return spawnSync('npm', ['ping'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** `pnpm pack` of packages/<name> for each name into `dest`; returns the tarballs' file names, sorted. */
export function packWorkspace(names: readonly string[], dest: string): string[] {
  for (const name of names) {
    execFileSync('pnpm', ['pack', '--pack-destination', dest], {
      cwd: join(PACKAGES, name),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return readdirSync(dest)
    .filter((f) => f.endsWith('.tgz'))
    .sort();
}

/** Files in a tarball (`package/...`), and its package.json. */
export function tarballContents(tgz: string): { files: string[]; manifest: { dependencies?: Record<string, string> } } {
  const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const manifest = JSON.parse(execFileSync('tar', ['xzfO', tgz, 'package/package.json'], { encoding: 'utf8' }));
  return { files, manifest };
}

/** A plain ESM npm project at `project` with the tarballs installed. */
export function installTarballs(project: string, tarballs: readonly string[]): void {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', ...tarballs], {
    cwd: project,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 120_000,
  });
}
