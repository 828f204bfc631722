import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { platform } from 'node:os';
import type { SandboxSettings } from './catalog/index.js';

let probed: { ok: boolean; why: string } | null = null;

/**
 * Whether this machine can give a scenario its own network namespace: Linux, `unshare -rn`
 * (util-linux; an unprivileged user namespace is enough) and `ip` to bring its loopback up.
 * Probed once per process.
 */
export function namespaceSupport(): { ok: boolean; why: string } {
  if (probed) return probed;
  if (platform() !== 'linux') {
    probed = { ok: false, why: `network namespaces need Linux (this is ${platform()})` };
    return probed;
  }
  const r = spawnSync('unshare', ['-rn', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error)
    probed = { ok: false, why: `cannot run unshare: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}` };
  else if (r.status !== 0)
    probed = { ok: false, why: `unshare -rn failed: ${(r.stderr || '').trim().split('\n')[0] || `exit ${r.status}`}` };
  else probed = { ok: true, why: '' };
  return probed;
}

/** Inside the fresh namespace: loopback up, then the scenario's sysctls (they apply to this namespace only). */
export async function prepareNamespace(sandbox: SandboxSettings): Promise<void> {
  const r = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0)
    throw new Error(`cannot bring up the namespace loopback: ${r.error?.message ?? r.stderr}`);
  if (sandbox.portRange)
    await writeFile('/proc/sys/net/ipv4/ip_local_port_range', `${sandbox.portRange[0]} ${sandbox.portRange[1]}\n`);
  if (sandbox.tcpTwReuse !== undefined) await writeFile('/proc/sys/net/ipv4/tcp_tw_reuse', `${sandbox.tcpTwReuse}\n`);
}
