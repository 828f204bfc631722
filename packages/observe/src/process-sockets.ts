import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BadOptionError, formatEndpoint, parseProcNetTcp, type TcpSocket, UnsupportedError } from '@kalab/core';

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

/**
 * The sockets of one process, sample after sample: the inodes behind /proc/PID/fd joined with
 * its network namespace's TCP table, plus the TIME_WAIT rows its sockets leave behind (a
 * TIME_WAIT has no inode: a tuple the process owned that turns up in TIME_WAIT is its).
 * fd links are re-read only for descriptors not seen before or whose socket is gone, so a
 * process holding 10,000 sockets costs a directory listing and a table parse per sample.
 */
export class ProcessSockets {
  private readonly fdInode = new Map<string, number>();
  private ownedTuples = new Set<string>();
  private liveInodes = new Set<number>();

  constructor(
    readonly pid: number,
    private readonly procRoot = '/proc',
  ) {}

  /** The process's command line, as ps shows it. */
  command(): string {
    try {
      return readFileSync(`${this.procRoot}/${this.pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ');
    } catch (err) {
      throw procError(this.pid, `${this.procRoot}/${this.pid}/cmdline`, err as NodeJS.ErrnoException);
    }
  }

  /** Socket inodes of the process's descriptors now. Throws BadOptionError('--pid') once it is gone. */
  private inodes(): Set<number> {
    const dir = `${this.procRoot}/${this.pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (err) {
      throw procError(this.pid, dir, err as NodeJS.ErrnoException);
    }
    const out = new Set<number>();
    const seen = new Set<string>();
    for (const fd of fds) {
      seen.add(fd);
      const known = this.fdInode.get(fd);
      if (known !== undefined && this.liveInodes.has(known)) {
        out.add(known);
        continue;
      }
      let inode = 0;
      try {
        inode = Number(SOCKET_LINK.exec(readlinkSync(`${dir}/${fd}`))?.[1] ?? 0);
      } catch {
        // closed between the listing and the readlink
      }
      // Only sockets are cached (a process has few other descriptors): a reused fd number is read again.
      if (inode) {
        this.fdInode.set(fd, inode);
        out.add(inode);
      } else this.fdInode.delete(fd);
    }
    for (const fd of this.fdInode.keys()) if (!seen.has(fd)) this.fdInode.delete(fd);
    return out;
  }

  private table(): TcpSocket[] {
    const out: TcpSocket[] = [];
    for (const family of [4, 6] as const) {
      const path = `${this.procRoot}/${this.pid}/net/tcp${family === 6 ? '6' : ''}`;
      let buf: Buffer;
      try {
        buf = readFileSync(path);
      } catch (err) {
        if (family === 6 && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw procError(this.pid, path, err as NodeJS.ErrnoException);
      }
      for (const s of parseProcNetTcp(buf, family, { inode: true })) out.push(s);
    }
    return out;
  }

  /** One sample: the process's sockets and TIME_WAITs, and every listener of its namespace (to tell sides apart). */
  sample(): TcpSocket[] {
    const inodes = this.inodes();
    const rows = this.table();
    const tableInodes = new Set<number>();
    for (const r of rows) if (r.inode) tableInodes.add(r.inode);
    this.liveInodes = tableInodes;
    const out: TcpSocket[] = [];
    const tuples = new Set<string>();
    for (const r of rows) {
      if (r.state === 'LISTEN') {
        out.push(r);
        continue;
      }
      const key = `${formatEndpoint(r.local)}>${formatEndpoint(r.remote)}`;
      if ((r.inode && inodes.has(r.inode)) || (!r.inode && this.ownedTuples.has(key))) {
        out.push(r);
        tuples.add(key);
      }
    }
    this.ownedTuples = tuples;
    return out;
  }
}
