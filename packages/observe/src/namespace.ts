import { spawnSync } from 'node:child_process';
import { platform } from 'node:os';
import { UnsupportedError } from '@kalab/core';

/**
 * How to enter a private network namespace: root creates one directly (`unshare -n`, so
 * tcpdump can still drop to its own user); anyone else through an unprivileged user
 * namespace (`unshare -rn`), where the program runs as a root mapped to them.
 */
export function unshareArgs(): string[] {
  return typeof process.geteuid === 'function' && process.geteuid() === 0 ? ['-n'] : ['-rn'];
}

let probed: string | null | undefined;

/** Why no namespace can be made here, in words naming what is missing; null when one can. Probed once. */
export function namespaceProblem(): string | null {
  if (probed !== undefined) return probed;
  if (platform() !== 'linux') {
    probed = `network namespaces need Linux (this is ${platform()})`;
    return probed;
  }
  const r = spawnSync('unshare', [...unshareArgs(), 'ip', 'link', 'set', 'lo', 'up'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err) probed = err.code === 'ENOENT' ? 'unshare is not installed (util-linux)' : `cannot run unshare: ${err.code}`;
  else if (r.status === 0) probed = null;
  else {
    const said = (r.stderr || '').trim().split('\n')[0] ?? '';
    if (/ip: (not found|No such file)|execvp.*ip/.test(said)) probed = '`ip` is not installed (iproute2)';
    else if (unshareArgs()[0] === '-rn' && /Operation not permitted|Invalid argument|No space left/.test(said))
      probed = `user namespaces are not available to this user (${said}; see kernel.unprivileged_userns_clone and user.max_user_namespaces)`;
    else probed = `unshare ${unshareArgs().join(' ')} failed: ${said || `exit ${r.status}`}`;
  }
  return probed;
}

/** Throws UnsupportedError (exit 3) naming what is missing when no namespace can be made. */
export function assertNamespace(): void {
  const why = namespaceProblem();
  if (why !== null) throw new UnsupportedError(`kalab observe runs the program in a private network namespace: ${why}`);
}
