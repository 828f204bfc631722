import { defineConfig } from 'vitest/config';
import StrictSkipReporter from './test/support/strict-reporter.js';

// Two tiers in one run (CONTRIBUTING.md, "Tests"): a file's name says its tier.
//   *.system.test.ts  system: reads the kernel's TCP table or counters, runs tcpdump, ss, ip netns or
//                     unshare, drives a real foreign server or client (nginx, Go, Python, curl in a
//                     namespace), tmux, or packs and installs packages; or holds the product to a
//                     wall-clock bound or a stress load that other files' CPU would skew. One file at
//                     a time, after the unit tier, so no other test file shows in what it reads.
//   *.test.ts         unit: pure logic and the lab's own processes on loopback port 0. Files run in
//                     parallel.
const TEST_DIRS = ['packages/*/test/**/', 'apps/*/test/**/', 'test/e2e/**/'];
const SYSTEM = TEST_DIRS.map((d) => `${d}*.system.test.ts`);

export default defineConfig({
  test: {
    // The unit tier's files in parallel, one per core: most of their time is spent waiting on
    // sockets and child processes.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', new StrictSkipReporter()],
    projects: [
      {
        test: {
          name: 'unit',
          include: TEST_DIRS.map((d) => `${d}*.test.ts`),
          exclude: ['**/node_modules/**', '**/dist/**', ...SYSTEM],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'system',
          include: SYSTEM,
          exclude: ['**/node_modules/**', '**/dist/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One worker runs these files one after another, once every unit file has finished.
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
