import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../packages/protocol/src/index.js';
import { kalab, type Proc } from './monitor-procs.js';

const TOKEN = 'e2e-fan-out-loopback';

/** The fan-out commands on one machine (no root needed): --list-agents, and Ctrl-C stopping every agent. */
describe('kalab loadgen --via on loopback', () => {
  const procs: Proc[] = [];
  let monitorUrl = '';
  let serverUrl = '';

  beforeAll(async () => {
    const monitor = kalab(['monitor', '--listen', '127.0.0.1:0', '--token', TOKEN]);
    procs.push(monitor);
    monitorUrl = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
    const server = kalab(['server', '--port', '0']);
    procs.push(server);
    serverUrl = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
    for (const name of ['lo-1', 'lo-2']) {
      const agent = kalab([
        'loadgen',
        '--agent',
        '--monitor',
        monitorUrl,
        '--token',
        TOKEN,
        '--name',
        name,
        '--max-connections',
        '50',
      ]);
      procs.push(agent);
      await agent.waitFor(/connected to/, 30_000, 'stderr');
    }
  });

  afterAll(() => {
    for (const p of procs) p.kill();
  });

  it('--list-agents prints each agent with its cores, caps and state (text and --json)', async () => {
    const json = kalab(['loadgen', '--via', monitorUrl, '--token', TOKEN, '--list-agents', '--json']);
    expect(await json.exited).toBe(0);
    const { agents } = JSON.parse(json.stdout) as {
      agents: { name: string; state: string; cores: number; caps: { maxConnections: number } }[];
    };
    expect(agents.map((a) => [a.name, a.state, a.caps.maxConnections]).sort()).toEqual([
      ['lo-1', 'idle', 50],
      ['lo-2', 'idle', 50],
    ]);
    for (const a of agents) expect(a.cores).toBeGreaterThanOrEqual(1);
    const text = kalab(['loadgen', '--via', monitorUrl, '--token', TOKEN, '--list-agents']);
    expect(await text.exited).toBe(0);
    expect(text.stdout).toMatch(
      /^lo-\d +\S+ +idle +\d+ cores {2}v\d+\.\d+\.\d+ {2}max 50 conn, 60 s, targets loopback, body 65536 B$/m,
    );
    expect(text.stdout.trim().split('\n')).toHaveLength(2);
  });

  it("a body larger than an agent's --max-body-bytes: exit 2 before any agent starts, naming the agent and the cap", async () => {
    // The agents run with the default cap, 64 KiB: one byte more is refused by the monitor up front.
    const big = 'x'.repeat(65_537);
    const run = kalab([
      'loadgen',
      serverUrl,
      '--via',
      monitorUrl,
      '--token',
      TOKEN,
      '--agents',
      'all',
      '-c',
      '2',
      '-n',
      '2',
      '-m',
      'POST',
      '-b',
      big,
    ]);
    expect(await run.exited).toBe(2);
    expect(run.stderr).toMatch(
      /agent lo-\d refuses the run: a 65537-byte request body is more than this agent's --max-body-bytes 65536/,
    );
    const list = kalab(['loadgen', '--via', monitorUrl, '--token', TOKEN, '--list-agents', '--json']);
    expect(await list.exited).toBe(0);
    const { agents } = JSON.parse(list.stdout) as { agents: { state: string; caps: { maxBodyBytes: number } }[] };
    expect(agents.map((a) => [a.state, a.caps.maxBodyBytes])).toEqual([
      ['idle', 65_536],
      ['idle', 65_536],
    ]);
  });

  it('Ctrl-C stops every agent; their reports are merged and printed', async () => {
    const run = kalab([
      'loadgen',
      serverUrl,
      '--via',
      monitorUrl,
      '--token',
      TOKEN,
      '--agents',
      'all',
      '-c',
      '4',
      '-d',
      '30s',
      '--json',
    ]);
    procs.push(run);
    const list = async () => {
      const p = kalab(['loadgen', '--via', monitorUrl, '--token', TOKEN, '--list-agents', '--json']);
      await p.exited;
      return (JSON.parse(p.stdout) as { agents: { state: string }[] }).agents;
    };
    // Let both agents get going (the server has seen their 4 connections and some requests),
    // then interrupt the command as a terminal's Ctrl-C would.
    const ledger = async () =>
      (await (await fetch(`${serverUrl}_kalab/stats`)).json()) as { requests: { total: number } };
    for (let i = 0; i < 120; i++) {
      const l = await ledger();
      // The stats calls are counted too (at most one a poll): 1,000 more means the agents are in.
      if (l.requests.total > 1000 + i + 1) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const t0 = Date.now();
    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Report;
    expect(r.outcome).toBe('complete');
    expect(r.stoppedEarly).toBe('stopped');
    expect(r.agents!.map((a) => a.outcome)).toEqual(['complete', 'complete']);
    for (const a of r.agents!) {
      expect(a.connections.opened).toBe(2);
      expect(a.requests.ok).toBeGreaterThan(0);
    }
    expect(r.requests.ok).toBe(r.agents!.reduce((s, a) => s + a.requests.ok, 0));
    // Each agent ran its 2 connections on its own workers (at most one per connection): their sum.
    expect(r.config['agents']).toBe(2);
    expect(r.config['connections']).toBe(4);
    expect([2, 3, 4]).toContain(r.config['workers']);
    expect(r.durationMs).toBeLessThan(25_000);
    // Both agents are free again.
    expect((await list()).map((a) => a.state)).toEqual(['idle', 'idle']);
  });
});
