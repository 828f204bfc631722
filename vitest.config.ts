import { defineConfig } from 'vitest/config';

// One run over every package so CI prints a single summary; each package can also
// run its own tests with `pnpm --filter <pkg> test`.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'test/e2e'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests compare kernel counters and socket states: keep files from racing each other.
    fileParallelism: false,
    reporters: ['default'],
    // Refuse to test a stale dist/ (worker, child and CLI tests run the built code).
    globalSetup: ['test/support/fresh-dist.ts'],
  },
});
