import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Worker, child and CLI tests run each package's built dist/: every test run first builds
// what changed (turbo compares the build's inputs by content; an up-to-date workspace is a
// cache hit), so no test runs a dist/ older than its sources. turbo needs pnpm: the one on
// PATH, else the pinned one through npx.
const root = fileURLToPath(new URL('../..', import.meta.url));

export default function setup(): void {
  const build = ['run', 'build'];
  const options: SpawnSyncOptions = { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 };
  const onPath = spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0;
  const pinned = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { packageManager: string })
    .packageManager;
  const r = onPath ? spawnSync('pnpm', build, options) : spawnSync('npx', ['-y', pinned, ...build], options);
  if (r.status !== 0)
    throw new Error(`the build before the tests failed (pnpm run build: exit ${r.status ?? r.signal})`);
}
