import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: '@kalab/observe', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false },
});
