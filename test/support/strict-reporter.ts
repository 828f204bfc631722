import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { strict } from './needs.js';

/**
 * Under KALAB_TEST_STRICT=1 (CI, `.ci/run`) a run that skipped anything fails, whatever made it
 * skip: `it.skip`, `describe.skipIf`, `runIf`, `ctx.skip()`, a `todo`. The skipped tests are named
 * on stderr. Outside strict mode it only counts them, so a laptop without nginx still runs the rest.
 */
export default class StrictSkipReporter implements Reporter {
  /** `-t NAME` leaves the other tests unrun on purpose: they are not skips to answer for. */
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (this.filtered) return;
    const skipped: string[] = [];
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'skipped' || state === 'pending') skipped.push(`${m.moduleId} > ${t.fullName}`);
      }
    }
    if (skipped.length === 0) return;
    if (!strict) {
      process.stderr.write(`\n${skipped.length} test(s) skipped (KALAB_TEST_STRICT=1 would fail the run)\n`);
      return;
    }
    const names = skipped.map((s) => `  ${s}`).join('\n');
    process.stderr.write(`\nKALAB_TEST_STRICT=1: ${skipped.length} test(s) skipped, which fails the run:\n${names}\n`);
    process.exitCode = 1;
  }
}
