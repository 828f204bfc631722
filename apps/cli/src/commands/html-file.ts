import { writeFileSync } from 'node:fs';
import { BadOptionError } from '@kalab/core';

/** Writes an HTML report; a path that cannot be written is the flag's fault (exit 2). */
export function writeHtml(flag: string, file: string, html: string): void {
  try {
    writeFileSync(file, html);
  } catch (err) {
    throw new BadOptionError(
      flag,
      `${flag} ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}
