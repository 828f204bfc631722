import { ExitCodes, exitCodeFor, InternalError, isKalabError } from '@kalab/core/errors';
import { LAB_VERSION } from '@kalab/core/version';

const REPORT_HINT =
  'this is a bug in kalab, not in your target: please report it with the command line, ' +
  '`kalab --version` and the stack below';

/**
 * Turns an error into the one-line message and exit code of docs/errors.md
 * (0 ok, 1 checks failed, 2 bad usage or input, 3 unreachable, 70 internal error, 130 stopped).
 */
export function reportError(err: unknown): number {
  if (isKalabError(err)) {
    process.stderr.write(`kalab: ${err.message}\n`);
    return exitCodeFor(err.code);
  }
  const code = (err as { code?: string } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander already printed its one-line message; usage errors are exit 2.
    return code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help'
      ? ExitCodes.OK
      : ExitCodes.USAGE;
  }
  // Nobody raised this on purpose: its own exit code, never 1 ("the run failed its checks").
  const internal = new InternalError(err);
  process.stderr.write(`kalab: ${internal.message}\n`);
  process.stderr.write(`kalab ${LAB_VERSION}: ${REPORT_HINT}\n${(err as Error)?.stack ?? String(err)}\n`);
  return exitCodeFor(internal.code);
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
