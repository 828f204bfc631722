import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// core "works when installed from its packed tarball into an unrelated project".
// Packs the built package, unpacks it into a fresh folder outside the workspace as
// node_modules/@kalab/core (its dependencies linked from the workspace so no registry is
// needed), and imports the TCP-table API from there. Needs dist/ (CI builds before testing).
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string } | string>;
  dependencies: Record<string, string>;
  files: string[];
};
const work = mkdtempSync(join(tmpdir(), 'kalab-core-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('@kalab/core packed tarball', () => {
  let files: string[] = [];

  it('packs dist with types, the README and no tests', () => {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: pkgDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    files = info[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/tcp/tcp-table.js');
    expect(files).toContain('README.md');
    expect(files.some((f) => f.startsWith('test/'))).toBe(false);
    // every target of the exports map is in the tarball
    for (const target of Object.values(pkg.exports)) {
      for (const p of typeof target === 'string' ? [target] : [target.types, target.default])
        expect(files).toContain(p.replace(/^\.\//, ''));
    }
    const project = join(work, 'consumer');
    mkdirSync(join(project, 'node_modules', '@kalab'), { recursive: true });
    execFileSync('tar', ['xzf', join(work, info[0]!.filename), '-C', join(project, 'node_modules', '@kalab')]);
    execFileSync('mv', [
      join(project, 'node_modules', '@kalab', 'package'),
      join(project, 'node_modules', '@kalab', 'core'),
    ]);
    for (const dep of Object.keys(pkg.dependencies)) {
      symlinkSync(realpathSync(join(pkgDir, 'node_modules', dep)), join(project, 'node_modules', dep));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  });

  it('imports and reads this host’s TCP table from an unrelated project', () => {
    const project = join(work, 'consumer');
    expect(readdirSync(join(project, 'node_modules', '@kalab', 'core'))).toContain('dist');
    const script = `
      import * as core from '@kalab/core';
      const { readTcpTable, countStates, parseNetstatAn, TCP_STATES, sampleTcp } = core;
      const rows = await readTcpTable();
      const sample = await sampleTcp({ host: 'consumer', maxSockets: 1 });
      console.log(JSON.stringify({
        rows: Array.isArray(rows),
        states: Object.keys(countStates(rows)).length === TCP_STATES.length,
        netstat: parseNetstatAn('tcp4 0 0 127.0.0.1.8080 127.0.0.1.51000 TIME_WAIT')[0].state,
        sample: sample.v === 1 && !('TcpSampleSchema' in core),
      }));
      // the light entry point: the TCP table without zod, ws or the histograms
      const tcp = await import('@kalab/core/tcp');
      if (typeof tcp.countTcpStates !== 'function' || (await tcp.sampleTcp({ maxSockets: 0 })).v !== 1) throw new Error('@kalab/core/tcp');
      if (typeof tcp.BadOptionError !== 'function' || 'TcpSampleSchema' in tcp) throw new Error('@kalab/core/tcp exports');`;
    writeFileSync(join(project, 'use.mjs'), script);
    const out = execFileSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ rows: true, states: true, netstat: 'TIME_WAIT', sample: true });
  });
});
