import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { BadOptionError } from './errors.js';

/** The most any file kalab reads may hold unless its caller says otherwise (a PEM file, a CA bundle). */
export const FILE_READ_LIMIT = 1024 * 1024;

/**
 * Reads a file the user named, refusing (exit 2, naming `flag`) a missing or unreadable one,
 * anything but a regular file (a FIFO, a device such as /dev/zero, a directory) and one over
 * `maxBytes`. The file is opened with O_NONBLOCK and checked with fstat on the open
 * descriptor, so a FIFO never blocks the open and a file swapped after a stat is still the
 * one checked; the read stops at `maxBytes + 1` bytes whatever the size said.
 */
export function readBounded(flag: string, file: string, maxBytes: number = FILE_READ_LIMIT): Buffer {
  const failed = (err: unknown) =>
    new BadOptionError(flag, `${flag} cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw failed(err);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new BadOptionError(flag, `${flag} "${file}" is a directory, not a file`);
    if (!st.isFile()) throw new BadOptionError(flag, `${flag} "${file}" is not a regular file`);
    const tooLarge = (size: string) =>
      new BadOptionError(flag, `${flag} "${file}" is ${size} bytes, more than the ${maxBytes}-byte limit`);
    if (st.size > maxBytes) throw tooLarge(String(st.size));
    // Sized by fstat (plus one byte to see the end), grown only if the file grew; never past maxBytes + 1.
    let buf = Buffer.allocUnsafe(st.size + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      let n: number;
      try {
        n = readSync(fd, buf, got, buf.length - got, null);
      } catch (err) {
        throw failed(err);
      }
      if (n === 0) break;
      got += n;
      // A file that grew past the limit after the fstat is refused like one that was already too large.
      if (got > maxBytes) throw tooLarge(`over ${maxBytes}`);
    }
    return Buffer.from(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}
