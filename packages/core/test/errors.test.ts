import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import { ErrorCodes, ExitCodes, exitCodeFor, KalabError, NetErrorCodes } from '../src/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');

/** Every .ts file under the packages' and the CLI's src/ (what ships, not tests), less errors.ts itself. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist') continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && p.includes('/src/') && !p.endsWith('core/src/errors.ts'))
        out.push(readFileSync(p, 'utf8'));
    }
  };
  for (const top of ['packages', 'apps']) walk(join(root, top));
  return out;
}

/** Each code's class, found by constructing every exported KalabError subclass. */
function classesByCode(): Map<string, string[]> {
  const byCode = new Map<string, string[]>();
  for (const [name, value] of Object.entries(core)) {
    if (typeof value !== 'function' || !(value.prototype instanceof KalabError)) continue;
    const Ctor = value as unknown as new (...args: unknown[]) => KalabError;
    const instance =
      name === 'BadOptionError' ? new Ctor('--x', 'm') : name === 'HttpParseError' ? new Ctor('R', 'm') : new Ctor('m');
    byCode.set(instance.code, [...(byCode.get(instance.code) ?? []), name]);
  }
  return byCode;
}

describe('the network codes the lab gives itself and docs/errors.md agree', () => {
  it("docs/errors.md marks exactly NetErrorCodes as the lab's own, each with what the wire shows", () => {
    const rows = docs.split('\n').filter((l) => /^\| `[A-Z0-9_]+` \(\*lab\*/.test(l));
    expect(rows.map((l) => /^\| `([A-Z0-9_]+)`/.exec(l)![1]).sort()).toEqual(Object.values(NetErrorCodes).sort());
    for (const row of rows) expect(row).toMatch(/\*\*(FIN|RST|nothing)\*\*/);
  });
});

describe('error codes, classes and docs/errors.md agree', () => {
  const codes = Object.values(ErrorCodes);
  const classes = classesByCode();

  it('every code has exactly one class, named in docs/errors.md with its exit code', () => {
    for (const code of codes) {
      expect(classes.get(code), code).toHaveLength(1);
      const row = docs.split('\n').find((l) => l.startsWith(`| \`${code}\``));
      expect(row, `${code} is documented`).toBeDefined();
      expect(row).toContain(`\`${classes.get(code)![0]}\``);
      expect(row!.trim().endsWith(`| ${exitCodeFor(code)} |`) || row!.includes('| — |')).toBe(true);
    }
  });

  it('docs/errors.md lists no code that does not exist', () => {
    const documented = [...docs.matchAll(/^\| `(KALAB_ERR_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...codes].sort());
  });

  it('every code is raised somewhere in the shipped code (by its class or its code)', () => {
    const text = sources().join('\n');
    for (const code of codes) {
      const key = Object.entries(ErrorCodes).find(([, v]) => v === code)![0];
      const cls = classes.get(code)![0];
      const raised =
        text.includes(`new ${cls}(`) || text.includes(`ErrorCodes.${key},`) || text.includes(`ErrorCodes.${key} `);
      expect(raised, `${code} is raised`).toBe(true);
    }
  });

  it('maps codes to the documented exit codes; an unknown error is internal, never 1', () => {
    expect(exitCodeFor(ErrorCodes.BAD_OPTION)).toBe(ExitCodes.USAGE);
    expect(exitCodeFor(ErrorCodes.UNREACHABLE)).toBe(ExitCodes.UNREACHABLE);
    expect(exitCodeFor(ErrorCodes.CHECK_FAILED)).toBe(ExitCodes.CHECK_FAILED);
    expect(exitCodeFor(ErrorCodes.ABORTED)).toBe(130);
    expect(exitCodeFor('EWHATEVER')).toBe(70);
    expect(exitCodeFor(undefined)).toBe(70);
  });
});
