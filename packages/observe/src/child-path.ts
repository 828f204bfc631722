import { fileURLToPath } from 'node:url';

/** A sibling module as a file to run: from dist/ itself, or dist/ when these sources run under vitest. */
export function siblingScript(name: string): string {
  const here = import.meta.url;
  return fileURLToPath(here.endsWith('.ts') ? new URL(`../dist/${name}`, here) : new URL(`./${name}`, here));
}
