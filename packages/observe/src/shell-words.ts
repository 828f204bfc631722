/** argv as a shell would need it typed: words with spaces or quotes single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
