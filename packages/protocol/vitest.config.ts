import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: '@kalab/protocol', testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
});
