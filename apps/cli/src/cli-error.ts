import { exitCodeFor, isKalabError } from '@kalab/core';

/**
 * Turns an error into the one-line message and exit code of DESIGN.md
 * (0 ok, 1 checks failed, 2 bad usage or input, 3 unreachable).
 */
export function reportError(err: unknown): number {
  if (isKalabError(err)) {
    process.stderr.write(`kalab: ${err.message}\n`);
    return exitCodeFor(err.code);
  }
  const code = (err as { code?: string } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander already printed its message; usage errors are exit 2.
    return code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help' ? 0 : 2;
  }
  process.stderr.write(`kalab: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

/** Wraps a command action so a thrown error becomes an exit code instead of a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined> | number | undefined) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}
