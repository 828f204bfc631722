/**
 * A private network namespace for a child process: the one place the lab runs `unshare`.
 *
 * Root creates the namespace directly (`unshare -n`, so tools such as tcpdump can still drop to
 * their own user); anyone else goes through an unprivileged user namespace (`unshare -rn`), where
 * the child runs as a root mapped to them. Inside, the child calls `prepareNamespace` (loopback
 * up, sysctls) and talks to its parent in JSON lines, which the parent reads with
 * `readChildLines` and a validating parse function of its own (a zod schema's `parse`).
 *
 * `--net outbound` (kalab observe) gives the namespace a way out through slirp4netns: user-mode
 * networking whose gateway 10.0.2.2 is the host's loopback and whose 10.0.2.3 forwards DNS to the
 * host's resolver. Every socket the program opens is still the namespace kernel's own.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { platform } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadOptionError, UnsupportedError } from './errors.js';

/** The namespace's own sysctls (they apply to that namespace only). */
export interface NamespaceSysctls {
  /** net.ipv4.ip_local_port_range. */
  portRange?: readonly [number, number] | null;
  /** net.ipv4.tcp_tw_reuse. */
  tcpTwReuse?: number | null;
}

/** slirp4netns's fixed addresses on its 10.0.2.0/24 (the namespace is 10.0.2.100). */
export const SLIRP = { gateway: '10.0.2.2', dns: '10.0.2.3', device: 'tap0', mtu: 65_520 } as const;

function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** `unshare`'s flags for a private network namespace (`-n` as root, `-rn` otherwise), plus `-m` for a mount namespace. */
function unshareArgs(opts: { mount?: boolean } = {}): string[] {
  const base = isRoot() ? '-n' : '-rn';
  return [opts.mount ? `${base}m` : base];
}

let probed: string | null | undefined;

/** Why no network namespace can be made here, in words naming what is missing; null when one can. Probed once. */
export function namespaceProblem(): string | null {
  if (probed !== undefined) return probed;
  if (platform() !== 'linux') {
    probed = `network namespaces need Linux (this is ${platform()})`;
    return probed;
  }
  const flags = unshareArgs();
  const r = spawnSync('unshare', [...flags, 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err) probed = err.code === 'ENOENT' ? 'unshare is not installed (util-linux)' : `cannot run unshare: ${err.code}`;
  else if (r.status === 0) probed = null;
  else {
    const said = (r.stderr || '').trim().split('\n')[0] ?? '';
    if (/ip: (not found|No such file)|execvp.*ip/.test(said)) probed = '`ip` is not installed (iproute2)';
    else if (flags[0] === '-rn' && /Operation not permitted|Invalid argument|No space left/.test(said))
      probed = `user namespaces are not available to this user (${said}; see kernel.unprivileged_userns_clone and user.max_user_namespaces)`;
    else probed = `unshare ${flags.join(' ')} failed: ${said || `exit ${r.status}`}`;
  }
  return probed;
}

/** Throws UnsupportedError (exit 3) naming what is missing when no namespace can be made; `what` says who needs it. */
export function assertNamespace(what: string): void {
  const why = namespaceProblem();
  if (why !== null) throw new UnsupportedError(`${what} needs a private network namespace: ${why}`);
}

/**
 * Why `--net outbound` cannot work here (slirp4netns missing, or /dev/net/tun closed to this
 * user), or null. Checked before the namespace is made, so the answer is one line, exit 3.
 */
export function outboundProblem(): string | null {
  const r = spawnSync('slirp4netns', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return 'slirp4netns is not installed (Debian package slirp4netns)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch (err) {
    return `slirp4netns opens /dev/net/tun, which this user cannot (${(err as NodeJS.ErrnoException).code}; it is normally mode 0666)`;
  }
  return null;
}

/** Starts `command args` in a new private network namespace (and mount namespace with `mount`). */
export function spawnInNamespace(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { mount?: boolean } = {},
): ChildProcess {
  const { mount, ...spawnOptions } = options;
  // unshare execs the command: the child's pid is the process inside the namespace.
  return spawn('unshare', [...unshareArgs({ mount }), command, ...args], spawnOptions);
}

/** Inside the fresh namespace: loopback up, then the sysctls asked for. Throws UnsupportedError when the loopback stays down. */
export function prepareNamespace(sysctls: NamespaceSysctls = {}): void {
  const r = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0)
    throw new UnsupportedError(
      `cannot bring up the namespace's loopback: ${r.error?.message ?? (r.stderr || '').trim()}`,
    );
  if (sysctls.portRange) {
    const [low, high] = sysctls.portRange;
    try {
      writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', `${low} ${high}\n`);
    } catch (err) {
      throw new BadOptionError(
        '--port-range',
        `--port-range ${low}-${high}: the kernel refused it (${(err as NodeJS.ErrnoException).code})`,
      );
    }
  }
  if (sysctls.tcpTwReuse !== undefined && sysctls.tcpTwReuse !== null)
    writeFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', `${sysctls.tcpTwReuse}\n`);
}

/** The running namespace's net.ipv4.tcp_tw_reuse (null when unreadable). */
export function readTcpTwReuse(): number | null {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8'), 10);
    return Number.isNaN(n) ? null : n;
  } catch {
    return null;
  }
}

/**
 * The JSON lines a namespaced child writes to its parent, each checked by `parse` (a zod
 * schema's `parse`, or any function that throws on a line it does not accept). Lines that are
 * not JSON are skipped (a library's stray output); JSON that `parse` rejects goes to `onInvalid`.
 */
export function readChildLines<T>(
  input: Readable,
  parse: (value: unknown) => T,
  onLine: (line: T) => void,
  onInvalid: (err: unknown, text: string) => void = () => {},
): Interface {
  const lines = createInterface({ input });
  lines.on('line', (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    let line: T;
    try {
      line = parse(value);
    } catch (err) {
      onInvalid(err, text);
      return;
    }
    onLine(line);
  });
  return lines;
}

/** A running slirp4netns: the namespace's way out. */
export interface OutboundLink {
  via: 'slirp4netns';
  /** Where the program reaches this machine's own loopback services. */
  hostAddress: string;
  stop(): void;
}

/**
 * Gives the namespace of `pid` a way out with slirp4netns (run from the parent, outside the
 * namespace): tap0 10.0.2.100/24, default route via 10.0.2.2 (the host's loopback: host
 * loopback access stays on), DNS at 10.0.2.3. Resolves once slirp4netns says it is configured.
 */
export async function startOutbound(pid: number, timeoutMs = 10_000): Promise<OutboundLink> {
  const slirp = spawn('slirp4netns', ['--configure', `--mtu=${SLIRP.mtu}`, '--ready-fd=3', String(pid), SLIRP.device], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let said = '';
  slirp.stderr!.setEncoding('utf8');
  slirp.stderr!.on('data', (d: string) => {
    if (said.length < 4096) said += d;
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      slirp.kill('SIGKILL');
      reject(new UnsupportedError(`--net outbound: ${why}`));
    };
    const timer = setTimeout(() => fail(`slirp4netns was not ready within ${timeoutMs} ms`), timeoutMs);
    slirp.on('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'ENOENT' ? 'slirp4netns is not installed' : `cannot run slirp4netns: ${err.message}`),
    );
    slirp.on('exit', () => fail(`slirp4netns exited: ${said.trim().split('\n').at(-1) ?? ''}`));
    (slirp.stdio[3] as Readable).once('data', () => {
      clearTimeout(timer);
      slirp.removeAllListeners('exit');
      resolve();
    });
  });
  slirp.on('exit', () => {});
  return {
    via: 'slirp4netns',
    hostAddress: SLIRP.gateway,
    stop: () => {
      slirp.kill('SIGTERM');
    },
  };
}

/**
 * Inside the namespace: waits (bounded) until the way out is configured (a default route), then
 * points /etc/resolv.conf at slirp4netns's DNS forwarder with a bind mount (needs the mount
 * namespace `spawnInNamespace(..., { mount: true })` made).
 */
export async function awaitOutbound(resolvConf: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const hasDefault = () =>
    readFileSync('/proc/net/route', 'latin1')
      .split('\n')
      .slice(1)
      .some((l) => l.split('\t')[1] === '00000000');
  while (!hasDefault()) {
    if (Date.now() > deadline) throw new UnsupportedError(`--net outbound: no route out after ${timeoutMs} ms`);
    await sleep(10);
  }
  writeFileSync(resolvConf, `nameserver ${SLIRP.dns}\n`);
  const r = spawnSync('mount', ['--bind', resolvConf, '/etc/resolv.conf'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0)
    throw new UnsupportedError(
      `--net outbound: cannot point /etc/resolv.conf at ${SLIRP.dns}: ${r.error?.message ?? (r.stderr || '').trim()}`,
    );
}
