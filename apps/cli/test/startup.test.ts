import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Start-up stays lazy (`kalab --help`, `kalab netstat --json` and `kalab doctor --help`
// in < 150 ms): registering the commands loads commander and a few constants, and a command loads
// its packages when it runs. Checked by what the process imports, not by timing it: a module hook
// records every module the ESM loader loads and, at exit, every CommonJS file in require's cache.

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kalab-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.KALAB_TEST_IMPORTS, url + '\\n');
  return next(url, context);
}`;
const PRELOAD = `
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
const cache = createRequire(process.cwd() + '/').cache;
process.on('exit', () => appendFileSync(process.env.KALAB_TEST_IMPORTS, Object.keys(cache).join('\\n') + '\\n'));`;

/** Packages that the light commands must never load: the engines' and the hub's dependencies, the schemas, the TUI. */
const HEAVY = ['piscina', 'undici', 'ws', 'blessed', 'zod', 'hdr-histogram-js', 'selfsigned'];

interface Loaded {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Third-party packages by name (`zod`, `@scope/name`). */
  packages: Set<string>;
  /** Workspace modules as `@kalab/<package>/<file in dist>`. */
  kalab: Set<string>;
}

let runs = 0;
function loadedBy(args: string[]): Loaded {
  const log = join(dir, `imports-${runs++}.txt`);
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(PRELOAD)}`, KALAB, ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', KALAB_TEST_IMPORTS: log },
      timeout: 60_000,
    },
  );
  const packages = new Set<string>();
  const kalab = new Set<string>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const file = line.startsWith('file://') ? fileURLToPath(line) : line;
    const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (pkg) packages.add(pkg[1]!);
    const own = /\/packages\/([^/]+)\/dist\/(.+)$/.exec(file);
    if (own && !pkg) kalab.add(`@kalab/${own[1]}/${own[2]}`);
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, packages, kalab };
}

const heavyIn = (l: Loaded) => HEAVY.filter((p) => l.packages.has(p));
/** A package's whole API (its index), where only a light entry was wanted. */
const indexesIn = (l: Loaded) => [...l.kalab].filter((m) => m.endsWith('/index.js') && !m.includes('/tcp/'));

describe('kalab start-up loads only what the command needs', () => {
  it('the recorder sees a command that does load them: kalab loadgen (piscina, ws, zod), even when a flag is bad', () => {
    const l = loadedBy(['loadgen', 'http://127.0.0.1:1/', '-c', 'nope']);
    expect(l.code).toBe(2);
    expect(l.stderr).toBe('kalab: -c must be an integer from 1 to 100000, got "nope"\n');
    expect(heavyIn(l)).toEqual(expect.arrayContaining(['piscina', 'ws', 'zod']));
    expect(l.kalab).toContain('@kalab/loadgen/index.js');
    expect(l.packages).toContain('commander');
  });

  it.each(['--help', 'doctor --help', '--version'])(
    'kalab %s loads commander and light entries: none of piscina, undici, ws, blessed, zod, no package index',
    (command) => {
      const l = loadedBy(command.split(' '));
      expect(l.code).toBe(0);
      expect(l.stdout).toMatch(command === '--version' ? /^\d+\.\d+\.\d+/ : /^Usage: kalab/);
      expect(l.packages).toContain('commander');
      expect(heavyIn(l)).toEqual([]);
      expect(indexesIn(l)).toEqual([]);
    },
  );

  it("kalab netstat --json loads core's TCP reader, neither loadgen nor the monitor's hub, no schema", () => {
    const l = loadedBy(['netstat', '--json']);
    expect(l.code).toBe(0);
    expect(JSON.parse(l.stdout)).toHaveProperty('states');
    expect(l.kalab).toContain('@kalab/core/tcp/tcp-table.js');
    expect(heavyIn(l)).toEqual([]);
    expect(indexesIn(l)).toEqual([]);
    expect([...l.kalab].filter((m) => m.startsWith('@kalab/loadgen/'))).toEqual([]);
    // Of the monitor only its defaults (`kalab monitor --help` prints them), never the hub.
    expect(l.kalab).not.toContain('@kalab/monitor/hub.js');
  });
});
