/** What a secret is replaced with in a printed command line. */
export const REDACTED = '***';

/**
 * A command line as the lab may print or send it: the value of `--token X` / `--token=X`
 * and the userinfo of a URL (`http://user:pw@host/`) replaced by `***`. The observed program
 * keeps its real argv; only what kalab shows (reports, the monitor) is redacted.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--token' && i + 1 < argv.length) {
      out.push(w, REDACTED);
      i++;
    } else if (w.startsWith('--token=')) out.push(`--token=${REDACTED}`);
    else out.push(w.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]+@/i, `$1${REDACTED}@`));
  }
  return out;
}
