import { readFileSync, statSync } from 'node:fs';
import { BadOptionError } from './errors.js';

/** Reads a file the user named, refusing a missing, unreadable or too large one (exit 2, naming the flag). */
export function readLimited(flag: string, file: string, maxBytes: number): Buffer {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new BadOptionError(flag, `${flag} "${file}" is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof BadOptionError) throw err;
    throw new BadOptionError(flag, `${flag} cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (size > maxBytes)
    throw new BadOptionError(flag, `${flag} "${file}" is ${size} bytes, more than the ${maxBytes}-byte limit`);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new BadOptionError(flag, `${flag} cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
