import { namespaceProblem } from '@kalab/core';

/**
 * Whether this machine can give a scenario its own network namespace (core's namespace module
 * probes it once: `unshare -n` as root, `-rn` otherwise, and `ip` for the loopback).
 */
export function namespaceSupport(): { ok: boolean; why: string } {
  const why = namespaceProblem();
  return why === null ? { ok: true, why: '' } : { ok: false, why };
}
