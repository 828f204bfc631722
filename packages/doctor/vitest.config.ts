import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: '@kalab/doctor', testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
});
