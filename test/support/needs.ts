import { spawnSync } from 'node:child_process';

/**
 * What a test needs from the machine (root, user namespaces, tcpdump, nginx, go, tmux, curl...).
 *
 * Outside CI a test that cannot get it skips and says why, once per reason. Under CI
 * (`.ci/run` sets KALAB_TEST_STRICT=1) a missing need fails the test file instead: on a
 * machine like CI's nothing may be skipped, so a green run cannot hide an untested path.
 *
 *   describe.skipIf(missing('tcpdump', hasCommand('tcpdump')))('...', () => { ... })
 */
const strict = process.env['KALAB_TEST_STRICT'] === '1';

const told = new Set<string>();

/** True when the test should skip because `what` is not available; throws under KALAB_TEST_STRICT=1. */
export function missing(what: string, available: boolean): boolean {
  if (available) return false;
  if (strict) {
    throw new Error(`test needs ${what}, which this machine lacks (KALAB_TEST_STRICT=1 forbids skipping)`);
  }
  if (!told.has(what)) {
    told.add(what);
    process.stderr.write(`skipped: test needs ${what}, which this machine lacks\n`);
  }
  return true;
}

/** Whether a command is on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Whether `unshare -rn` gives this user a private network namespace. */
export function canUnshareNet(): boolean {
  return spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore' }).status === 0;
}

/** Whether this process runs as root (ip netns, tcpdump on any interface). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
