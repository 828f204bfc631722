import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BadOptionError, formatEndpoint, parseProcNetTcp, type TcpSocket, UnsupportedError } from '@kalab/core';
import { redactArgv } from './redact-argv.js';

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

function procError(pid: number, path: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'ESRCH')
    return new BadOptionError('--pid', `--pid ${pid}: no such process`);
  if (err.code === 'EACCES' || err.code === 'EPERM')
    return new UnsupportedError(`cannot read ${path}: permission denied (run kalab as the process's user or as root)`, {
      cause: err,
    });
  return new UnsupportedError(`cannot read ${path}: ${err.code ?? err.message}`, { cause: err });
}

/** The counters that move whenever a socket of the namespace opens, closes or changes hands. */
const SNMP_WATCHED = ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'CurrEstab', 'OutRsts'];

/**
 * The sockets of one process, sample after sample: its namespace's TCP table joined with the
 * socket inodes behind /proc/PID/fd, plus the TIME_WAIT (and orphaned FIN_WAIT) rows its sockets
 * leave behind — those have no inode, so a tuple the process owned is its own, and so is one on
 * a port it listens on.
 *
 * Reading a 10,000-row table costs the kernel tens of milliseconds, so a sample first reads
 * the namespace's small counter files: when no socket opened, closed or changed state since the
 * last full read, the table is not read again (at most `fullEveryMs` apart). The fd directory
 * is listed only when the table holds an inode not yet known to be the process's or another's.
 */
export class ProcessSockets {
  private owned = new Set<number>();
  private foreign = new Set<number>();
  private ownedTuples = new Set<string>();
  private lastCounters = '';
  private lastFullMs = Number.NEGATIVE_INFINITY;
  /** Full reads of the table so far. */
  fullReads = 0;
  /** fd directory listings so far. */
  fdListings = 0;
  /** The namespace's ActiveOpens and PassiveOpens at the first and the latest sample. */
  readonly opens = { first: null as [number, number] | null, last: null as [number, number] | null };

  constructor(
    readonly pid: number,
    private readonly procRoot = '/proc',
  ) {}

  /**
   * Longest time between two full reads when the counters say nothing changed: 1 s, or 50 times
   * what the last full read cost, so re-reading a huge table stays under 2% of a core.
   */
  private fullEveryMs = 1000;

  /** The process's command line, as ps shows it, with tokens and URL credentials redacted. */
  command(): string {
    const path = `${this.procRoot}/${this.pid}/cmdline`;
    try {
      return redactArgv(readFileSync(path, 'latin1').split('\0').filter(Boolean)).join(' ');
    } catch (err) {
      throw procError(this.pid, path, err as NodeJS.ErrnoException);
    }
  }

  private read(name: string, optional = false): Buffer | null {
    const path = `${this.procRoot}/${this.pid}/${name}`;
    try {
      return readFileSync(path);
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw procError(this.pid, path, err as NodeJS.ErrnoException);
    }
  }

  /** A fingerprint of the namespace's socket counters (snmp Tcp and sockstat TCP lines). */
  private counters(): string {
    const snmp = this.read('net/snmp')!.toString('latin1');
    const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0]?.split(/\s+/) ?? [];
    const values = lines[1]?.split(/\s+/) ?? [];
    const num = (n: string) => Number(values[names.indexOf(n)] ?? 0);
    this.opens.last = [num('ActiveOpens'), num('PassiveOpens')];
    this.opens.first ??= this.opens.last;
    const picked = SNMP_WATCHED.map((n) => values[names.indexOf(n)]).join(',');
    const sockstat = this.read('net/sockstat')!.toString('latin1');
    // Without `alloc` and `mem`: they move with the kernel's allocations and buffers, not with sockets opening or closing.
    const noMem = (line: string | undefined) => (line ?? '').replace(/ (alloc|mem) \d+/g, '');
    const tcp = noMem(/^TCP:.*$/m.exec(sockstat)?.[0]);
    const tcp6 = noMem(/^TCP6:.*$/m.exec(this.read('net/sockstat6', true)?.toString('latin1') ?? '')?.[0]);
    return `${picked}|${tcp}|${tcp6}`;
  }

  /** Lists /proc/PID/fd and sorts `unknown` inodes into owned and foreign. */
  private classify(unknown: Set<number>): void {
    const dir = `${this.procRoot}/${this.pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (err) {
      throw procError(this.pid, dir, err as NodeJS.ErrnoException);
    }
    this.fdListings++;
    const mine = new Set<number>();
    for (const fd of fds) {
      try {
        const inode = Number(SOCKET_LINK.exec(readlinkSync(`${dir}/${fd}`))?.[1] ?? 0);
        if (inode && unknown.has(inode)) mine.add(inode);
      } catch {
        // closed between the listing and the readlink
      }
    }
    for (const inode of unknown) (mine.has(inode) ? this.owned : this.foreign).add(inode);
  }

  /**
   * One sample at `atMs`: the process's sockets and TIME_WAITs plus every listener of its
   * namespace (to tell client from server sides), or null when nothing can have changed.
   */
  sample(atMs: number): TcpSocket[] | null {
    const fingerprint = this.counters();
    if (fingerprint === this.lastCounters && atMs - this.lastFullMs < this.fullEveryMs) return null;
    this.lastCounters = fingerprint;
    this.lastFullMs = atMs;
    this.fullReads++;
    const started = performance.now();
    const rows: TcpSocket[] = [];
    for (const family of [4, 6] as const) {
      const buf = this.read(`net/tcp${family === 6 ? '6' : ''}`, family === 6);
      if (buf) for (const s of parseProcNetTcp(buf, family, { inode: true })) rows.push(s);
    }
    const present = new Set<number>();
    const unknown = new Set<number>();
    for (const r of rows) {
      if (!r.inode) continue;
      present.add(r.inode);
      if (!this.owned.has(r.inode) && !this.foreign.has(r.inode)) unknown.add(r.inode);
    }
    if (unknown.size > 0) this.classify(unknown);
    // Forget inodes that left the table (inode numbers are reused).
    for (const set of [this.owned, this.foreign]) for (const i of set) if (!present.has(i)) set.delete(i);
    // Ports this process listens on: a TIME_WAIT on one of them is a connection it accepted, even one
    // that came and went between two samples (a server that closes first keeps the TIME_WAIT).
    const listening = new Set<string>();
    for (const r of rows)
      if (r.state === 'LISTEN' && r.inode && this.owned.has(r.inode))
        listening.add(`${r.local.address}|${r.local.port}`);
    const accepted = (r: TcpSocket) =>
      listening.has(`${r.local.address}|${r.local.port}`) ||
      listening.has(`0.0.0.0|${r.local.port}`) ||
      listening.has(`::|${r.local.port}`);
    const out: TcpSocket[] = [];
    const tuples = new Set<string>();
    for (const r of rows) {
      if (r.state === 'LISTEN') {
        out.push(r);
        continue;
      }
      const key = `${formatEndpoint(r.local)}>${formatEndpoint(r.remote)}`;
      if ((r.inode && this.owned.has(r.inode)) || (!r.inode && (this.ownedTuples.has(key) || accepted(r)))) {
        out.push(r);
        tuples.add(key);
      }
    }
    this.ownedTuples = tuples;
    this.fullEveryMs = Math.max(1000, (performance.now() - started) * 50);
    return out;
  }
}
