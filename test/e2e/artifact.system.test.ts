import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPeer } from '../../packages/monitor/test/test-peer.js';
import { canUnshareNet, hasCommand, isRoot, missing } from '../support/needs.js';
import { kalab, NetnsPair, Proc } from './monitor-procs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'artifact-e2e-token';

const cannot =
  missing('root (ip netns)', isRoot()) ||
  missing('ip (iproute2)', hasCommand('ip')) ||
  missing('unshare (util-linux)', canUnshareNet()) ||
  missing('pnpm (to build the artifact)', hasCommand('pnpm'));

/**
 * The deployable agent: `pnpm artifact` builds one tarball; unpacked into a folder outside the
 * workspace, with nothing but `node` on PATH (no pnpm, no workspace), it runs an agent inside
 * its own network namespace (its own "machine" on a veth pair) that loads the lab server.
 */
describe.skipIf(cannot)('the deployable artifact (pnpm artifact)', () => {
  const pair = new NetnsPair();
  const procs: Proc[] = [];
  let work = '';
  let kalabJs = '';
  let nodeOnly = '';

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kalab-artifact-e2e-'));
    const out = join(work, 'out');
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-artifact.mjs'), '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(built.status, built.stderr).toBe(0);
    const tarball = built.stdout.trim().split('\n').pop()!;
    expect(readdirSync(out)).toEqual([tarball.split('/').pop()]);
    const unpacked = join(work, 'machine');
    mkdirSync(unpacked);
    expect(spawnSync('tar', ['-xzf', tarball, '-C', unpacked]).status).toBe(0);
    kalabJs = join(unpacked, 'kalab/bin/kalab.js');
    // A PATH with node alone: the artifact may not lean on pnpm or the workspace.
    nodeOnly = join(work, 'bin');
    mkdirSync(nodeOnly);
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    pair.up();
  }, 120_000);

  afterAll(() => {
    for (const p of procs) p.kill();
    pair.down();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function fromArtifact(args: string[]): Proc {
    const env = ['env', '-i', `PATH=${nodeOnly}`, `HOME=${work}`];
    const p = new Proc('ip', ['netns', 'exec', pair.ns, ...env, 'node', kalabJs, ...args]);
    procs.push(p);
    return p;
  }

  it('says what it is and runs --help with node alone on PATH', () => {
    const meta = JSON.parse(readFileSync(join(kalabJs, '../../ARTIFACT.json'), 'utf8')) as { version: string };
    const cli = JSON.parse(readFileSync(join(ROOT, 'apps/cli/package.json'), 'utf8')) as { version: string };
    expect(meta.version).toBe(cli.version);
    const help = spawnSync('env', ['-i', `PATH=${nodeOnly}`, 'node', kalabJs, 'loadgen', '--help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--agent');
    expect(spawnSync('env', ['-i', `PATH=${nodeOnly}`, 'sh', '-c', 'command -v pnpm']).status).not.toBe(0);
  });

  it('an agent from the unpacked artifact, in its own namespace, runs a load the server ledger confirms', async () => {
    const monitor = kalab([
      'monitor',
      '--listen',
      `${pair.hostAddr}:0`,
      '--token',
      TOKEN,
      '--snapshot-interval',
      '100',
    ]);
    procs.push(monitor);
    const monitorUrl = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
    const server = kalab(['server', '--host', pair.hostAddr, '--port', '0']);
    procs.push(server);
    const serverUrl = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
    const agent = fromArtifact([
      'loadgen',
      '--agent',
      '--monitor',
      monitorUrl,
      '--token',
      TOKEN,
      '--name',
      'packed',
      '--allow-target',
      new URL(serverUrl).host,
      '--max-duration',
      '30s',
      '--json',
    ]);
    const viewer = await TestPeer.connect(monitorUrl, { role: 'viewer', name: 'artifact-e2e', token: TOKEN });
    try {
      await viewer.next(
        (m) =>
          m['type'] === 'snapshot' &&
          (m['sources'] as { name: string; connected: boolean }[]).some((s) => s.name === 'packed' && s.connected),
        20_000,
      );
      viewer.send({
        v: 1,
        type: 'run-start',
        runId: 'artifact-1',
        options: { target: serverUrl, requests: 500, connections: 5 },
      });
      const line = await agent.waitFor(/^(\{"schema":"kalab\.report\/v1".*)$/m, 60_000);
      const report = JSON.parse(line[1]!) as { requests: { ok: number }; connections: { opened: number } };
      expect(report.requests.ok).toBe(500);
      expect(report.connections.opened).toBe(5);
      // The server's own ledger, an observer the agent does not control.
      const stats = (await (await fetch(`${serverUrl}_kalab/stats`)).json()) as {
        connections: { opened: number };
        requests: { total: number };
      };
      expect(stats.requests.total).toBe(500 + 1); // + this stats request
      expect(stats.connections.opened).toBe(5 + 1);
    } finally {
      viewer.ws.terminate();
    }
  }, 120_000);
});
