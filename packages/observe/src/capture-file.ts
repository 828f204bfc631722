import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BadOptionError } from '@kalab/core';

/** The first four bytes of a pcap file, either byte order, micro- or nanosecond timestamps. */
const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1]);

/** Where `--capture` may write: a new file, or an earlier capture of the same user (its identity, to check again). */
export interface CaptureTarget {
  file: string;
  /** The existing capture's device and inode, checked again when it is replaced; null for a new file. */
  existing: { dev: number; ino: number } | null;
}

/**
 * Checks `--capture FILE` before anything runs (exit 2 naming the flag). FILE must be new
 * (its directory exists), or an existing pcap file — a capture written before — that is a
 * regular file (not a link) owned by the user running kalab. A device (/dev/null,
 * /dev/zero), a FIFO, a directory, a link or someone else's file is refused: kalab as root
 * would otherwise empty it and tcpdump would hand it to its own user.
 */
export function checkCaptureTarget(flag: string, file: string): CaptureTarget {
  const path = resolve(file);
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new BadOptionError(flag, `${flag} cannot use "${file}" (${(err as NodeJS.ErrnoException).code})`);
    let dir: ReturnType<typeof statSync> | undefined;
    try {
      dir = statSync(dirname(path));
    } catch {
      dir = undefined;
    }
    if (!dir?.isDirectory())
      throw new BadOptionError(flag, `${flag} "${file}": the directory ${dirname(path)} does not exist`);
    return { file, existing: null };
  }
  const refuse = (why: string) =>
    new BadOptionError(
      flag,
      `${flag} "${file}" ${why}: give the name of a new file (kalab writes only new captures or its own)`,
    );
  if (st.isSymbolicLink()) throw refuse('is a symbolic link');
  if (!st.isFile()) throw refuse(st.isDirectory() ? 'is a directory' : 'is not a regular file');
  const uid = process.geteuid?.() ?? st.uid;
  if (st.uid !== uid) throw refuse(`belongs to uid ${st.uid}, not to this user (uid ${uid})`);
  if (!isPcap(path)) throw refuse('exists and is not a pcap capture');
  return { file, existing: { dev: Number(st.dev), ino: Number(st.ino) } };
}

function isPcap(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && PCAP_MAGICS.has(head.readUInt32BE(0));
  } finally {
    closeSync(fd);
  }
}

/** A directory only this process's user can enter, for tcpdump to write its file in. */
export function captureTempDir(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kalab-capture-')); // mode 0700
  return { dir, file: join(dir, 'capture.pcap') };
}

/**
 * Copies tcpdump's file to the user's `--capture` FILE, creating it (O_EXCL: never a file that
 * appeared meanwhile) or replacing the capture checked at start (the same inode, still a
 * regular file, never followed through a link). The temporary directory is removed either way.
 */
export function saveCapture(tmp: { dir: string; file: string }, target: CaptureTarget, flag = '--capture'): void {
  try {
    const flags =
      constants.O_WRONLY |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      (target.existing ? 0 : constants.O_CREAT | constants.O_EXCL);
    let out: number;
    try {
      out = openSync(target.file, flags, 0o644);
    } catch (err) {
      throw new BadOptionError(flag, `${flag} cannot write "${target.file}" (${(err as NodeJS.ErrnoException).code})`);
    }
    try {
      const st = fstatSync(out);
      if (!st.isFile() || (target.existing && (st.dev !== target.existing.dev || st.ino !== target.existing.ino)))
        throw new BadOptionError(flag, `${flag} "${target.file}" changed while the program ran: not written`);
      ftruncateSync(out, 0);
      const src = openSync(tmp.file, constants.O_RDONLY);
      try {
        const buf = Buffer.allocUnsafe(1 << 16);
        for (let n = readSync(src, buf); n > 0; n = readSync(src, buf)) writeSync(out, buf, 0, n);
      } finally {
        closeSync(src);
      }
    } finally {
      closeSync(out);
    }
  } finally {
    rmSync(tmp.dir, { recursive: true, force: true });
  }
}
