import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { BadOptionError, UnreachableError } from '../errors.js';

/** Where to read: this process's namespace, or another process's through /proc/<pid>/net. */
export interface ProcTarget {
  /** Read the network namespace of this process (through /proc/<pid>/net). */
  pid?: number;
  /** Root of procfs; tests point it at fixtures. Default `/proc`. */
  procRoot?: string;
}

export function netDir({ pid, procRoot = '/proc' }: ProcTarget): string {
  if (pid !== undefined) {
    if (!Number.isInteger(pid) || pid < 1)
      throw new BadOptionError('pid', `pid must be a positive integer, got ${pid}`);
    return `${procRoot}/${pid}/net`;
  }
  return `${procRoot}/net`;
}

/** True when procfs offers a TCP table here (Linux). */
export function hasProcNet(target: ProcTarget = {}): boolean {
  return existsSync(`${netDir(target)}/tcp`);
}

// procfs files report size 0, so read until EOF into a buffer that remembers how big the
// table was last time (no regrowing and copying on every sample).
const sizeHint = new Map<string, number>();
const MIN_CHUNK = 64 * 1024;
const SLICE_BYTES = 256 * 1024;

function grow(buf: Buffer, used: number): Buffer {
  const next = Buffer.allocUnsafe(buf.length * 2);
  buf.copy(next, 0, 0, used);
  return next;
}

function missing(path: string, target: ProcTarget, err: NodeJS.ErrnoException): Error {
  if (target.pid !== undefined && (err.code === 'ENOENT' || err.code === 'ESRCH')) {
    return new BadOptionError('pid', `no process with pid ${target.pid} (cannot read ${path})`);
  }
  return new UnreachableError(`cannot read ${path}: ${err.code ?? err.message}`, { cause: err });
}

/** Opens a procfs file; `optional` files (tcp6 without IPv6) give undefined when absent. */
function openProc(path: string, target: ProcTarget, optional: boolean): number | undefined {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if (
      optional &&
      (err as NodeJS.ErrnoException).code === 'ENOENT' &&
      (target.pid === undefined || existsSync(netDir(target)))
    )
      return undefined;
    throw missing(path, target, err as NodeJS.ErrnoException);
  }
}

/**
 * Reads an open procfs file to its end. seq_file hands out at most one page (~4 KB, 27
 * rows) per read(), so a 30,000-row table is ~1,100 reads. It yields after every SLICE_BYTES
 * read, so an async caller can give the event loop a turn.
 */
function* readAll(fd: number, path: string): Generator<number, Buffer, void> {
  let buf: Buffer = Buffer.allocUnsafe(Math.max(MIN_CHUNK, sizeHint.get(path) ?? 0));
  let used = 0;
  let sliceStart = 0;
  for (;;) {
    if (used === buf.length) buf = grow(buf, used);
    const n = readSync(fd, buf, used, buf.length - used, null);
    if (n === 0) break;
    used += n;
    if (used - sliceStart >= SLICE_BYTES) {
      sliceStart = used;
      yield used;
    }
  }
  sizeHint.set(path, Math.ceil(used * 1.25) + 4096);
  return buf.subarray(0, used);
}

/** Reads a procfs file whole. `optional` files (tcp6 without IPv6) read as undefined when absent. */
export function readProcFileSync(path: string, target: ProcTarget, optional = false): Buffer | undefined {
  const fd = openProc(path, target, optional);
  if (fd === undefined) return undefined;
  try {
    const it = readAll(fd, path);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The async reader. Going through the thread pool would make each of the ~1,100 page reads
 * of a 30,000-row table a round trip, slower than the whole `ss -tan` and worse the busier
 * the machine. procfs reads never wait on a disk, so they are done synchronously in slices
 * of SLICE_BYTES (a millisecond or two each), giving the event loop a turn between slices.
 */
export async function readProcFile(path: string, target: ProcTarget, optional = false): Promise<Buffer | undefined> {
  const fd = openProc(path, target, optional);
  if (fd === undefined) return undefined;
  try {
    const it = readAll(fd, path);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
}
