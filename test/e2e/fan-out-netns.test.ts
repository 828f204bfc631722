import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LatencyHistogram } from '../../packages/core/src/index.js';
import { TestPeer } from '../../packages/monitor/test/test-peer.js';
import type { Report } from '../../packages/protocol/src/index.js';
import { hasCommand, isRoot, missing } from '../support/needs.js';
import { agentArgs, kalab, type Proc } from './monitor-procs.js';
import { NetnsBridge } from './netns-bridge.js';

const TOKEN = 'e2e-fan-out-token';
const AGENTS = 4;

interface Ledger {
  connections: { opened: number };
  requests: { total: number };
}

/**
 * Four agents, each its own machine (network namespace on a bridge:
 * its own address, TCP table and ports), one run split over all of them, checked three ways:
 * the merged report, the sum over its agents, and the server's own ledger.
 */
describe.skipIf(
  missing('root with ip netns, bridges and unshare --uts', isRoot() && hasCommand('ip') && hasCommand('unshare')),
)('fan-out over four agents on four (emulated) machines', () => {
  const net = new NetnsBridge(AGENTS);
  const procs: Proc[] = [];
  const agents: { proc: Proc; name: string; host: string }[] = [];
  let monitorUrl = '';
  let serverUrl = '';
  let viewer: TestPeer;

  const hostName = (i: number) => `kalab-fo-${process.pid % 1000}-${i + 1}`;

  async function ledger(): Promise<Ledger> {
    return (await (await fetch(`${serverUrl}_kalab/stats`)).json()) as Ledger;
  }

  /** kalab loadgen ... to the end: exit code, stderr, and the report (the last stdout line) when there is one. */
  async function loadgen(args: string[]): Promise<{ code: number | null; stderr: string; report: Report | null }> {
    const p = kalab(['loadgen', ...args]);
    procs.push(p);
    const code = await p.exited;
    const last = p.stdout.trim().split('\n').at(-1) ?? '';
    return { code, stderr: p.stderr, report: last.startsWith('{') ? (JSON.parse(last) as Report) : null };
  }

  async function idleAgents(): Promise<{ name: string; state: string }[]> {
    const reply = viewer.next((m) => m['type'] === 'agents');
    viewer.send({ v: 1, type: 'agents-list' });
    return (await reply)['agents'] as { name: string; state: string }[];
  }

  beforeAll(async () => {
    net.up();
    const monitor = kalab(['monitor', '--listen', `${net.hostAddr}:0`, '--token', TOKEN, '--heartbeat', '500']);
    procs.push(monitor);
    monitorUrl = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
    const server = kalab(['server', '--host', net.hostAddr, '--port', '0']);
    procs.push(server);
    serverUrl = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
    const port = new URL(serverUrl).port;
    for (let i = 0; i < AGENTS; i++) {
      const name = `agent-${i + 1}`;
      const proc = net.kalab(
        i,
        hostName(i),
        agentArgs({ monitor: monitorUrl, token: TOKEN, name, allow: [`${net.hostAddr}:${port}`] }),
      );
      procs.push(proc);
      agents.push({ proc, name, host: hostName(i) });
    }
    viewer = await TestPeer.connect(monitorUrl, { role: 'viewer', name: 'e2e-fan-out', token: TOKEN });
    await vi.waitFor(async () => expect((await idleAgents()).filter((a) => a.state === 'idle')).toHaveLength(AGENTS), {
      timeout: 30_000,
      interval: 250,
    });
  });

  afterAll(() => {
    viewer?.ws.terminate();
    for (const p of procs) p.kill();
    net.down();
  });

  it('--agents all -c 16 -n 8000: merged = sum over agents = the server ledger; 4 connections per agent', async () => {
    const before = await ledger();
    const { code, stderr, report } = await loadgen([
      serverUrl,
      '--via',
      monitorUrl,
      '--token',
      TOKEN,
      '--agents',
      'all',
      '-c',
      '16',
      '-n',
      '8000',
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = report!;
    const after = await ledger();
    expect(r.outcome).toBe('complete');
    expect(r.requests.ok).toBe(8000);
    expect(r.requests.sent).toBe(8000);
    expect(r.connections.opened).toBe(16);
    const shares = r.agents!;
    expect(shares).toHaveLength(AGENTS);
    expect(shares.reduce((s, a) => s + a.requests.ok, 0)).toBe(8000);
    expect(shares.reduce((s, a) => s + a.connections.opened, 0)).toBe(16);
    for (const a of shares) {
      expect(a.outcome).toBe('complete');
      expect(a.connections.opened).toBe(4);
      expect(a.requests.ok).toBe(2000);
    }
    // Each share came from its own machine.
    expect(new Set(shares.map((a) => a.host.name))).toEqual(new Set(agents.map((a) => a.host)));
    // The server's ledger (less the one connection and request of the stats call itself).
    expect(after.requests.total - before.requests.total - 1).toBe(8000);
    expect(after.connections.opened - before.connections.opened - 1).toBe(16);
    // The histograms were merged, not averaged: one latency per request.
    expect(LatencyHistogram.decode(r.latencyHistogram!).count).toBe(8000);
    expect(LatencyHistogram.decode(r.connectHistogram!).count).toBe(16);
    expect(r.latencyMs.max).toBe(Math.max(...shares.map((a) => a.latencyMs.max)));
  });

  it('refuses what the agents cannot take: more agents than connected, a wrong token, caps, --agents 0 or without --via', async () => {
    const more = await loadgen([serverUrl, '--via', monitorUrl, '--token', TOKEN, '--agents', '5', '-n', '100']);
    expect(more.code).toBe(3);
    expect(more.stderr).toMatch(/--agents 5: only 4 idle agents are connected \(4 connected\)/);
    const token = await loadgen([serverUrl, '--via', monitorUrl, '--token', 'wrong', '--agents', 'all', '-n', '100']);
    expect(token.code).toBe(3);
    expect(token.stderr).toMatch(/wrong token/);
    const caps = await loadgen([serverUrl, '--via', monitorUrl, '--token', TOKEN, '--agents', '2', '-d', '40s']);
    expect(caps.code).toBe(1);
    expect(caps.stderr).toMatch(
      /agent agent-\d refuses its share: a 40000 ms run is longer than this agent's --max-duration 30000 ms/,
    );
    const zero = await loadgen([serverUrl, '--via', monitorUrl, '--token', TOKEN, '--agents', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toBe('kalab: --agents must be an integer from 1 to 1024, got "0"\n');
    const noVia = await loadgen([serverUrl, '--agents', '2']);
    expect(noVia.code).toBe(2);
    expect(noVia.stderr).toMatch(/--agents needs --via/);
    // Nothing was left running.
    expect((await idleAgents()).filter((a) => a.state === 'idle')).toHaveLength(AGENTS);
  });

  it('kill -9 of one agent during -d 10s: the others finish, outcome partial with its last totals, exit 1, monitor still serving', async () => {
    const victim = agents[AGENTS - 1]!;
    type Src = { name: string; runId?: string; totals: { requests: number } };
    const victimIn = (m: Record<string, unknown>) => (m['sources'] as Src[]).find((s) => s.name === victim.name);
    // A source's totals add up over its runs: this run has ticked once they grow.
    const previous = victimIn(await viewer.next((m) => m['type'] === 'snapshot'))?.totals.requests ?? 0;
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
      '8',
      '-d',
      '10s',
      '--json',
    ]);
    procs.push(run);
    // Kill it once the monitor has seen it tick in this run (so it has totals to lose).
    await viewer.next((m) => {
      const v = m['type'] === 'snapshot' ? victimIn(m) : undefined;
      return v !== undefined && v.totals.requests > previous;
    }, 30_000);
    victim.proc.kill('SIGKILL');
    expect(await run.exited).toBe(1);
    const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Report;
    expect(r.outcome).toBe('partial');
    expect(run.stderr).toMatch(new RegExp(`partial run: ${victim.name} lost`));
    const shares = r.agents!;
    expect(
      shares
        .filter((a) => a.outcome === 'complete')
        .map((a) => a.name)
        .sort(),
    ).toEqual(agents.slice(0, AGENTS - 1).map((a) => a.name));
    const lost = shares.find((a) => a.name === victim.name)!;
    expect(lost.outcome).toBe('lost');
    expect(lost.requests.ok).toBeGreaterThan(0);
    expect(lost.connections.opened).toBe(2);
    // The merge still adds up: the lost share counts its last tick.
    expect(r.requests.ok).toBe(shares.reduce((s, a) => s + a.requests.ok, 0));
    expect(r.connections.opened).toBe(8);
    for (const a of shares.filter((x) => x.outcome === 'complete')) expect(a.connections.opened).toBe(2);
    // The monitor goes on serving: it answers, and lists the three that are left, idle.
    const health = await fetch(monitorUrl.replace('ws://', 'http://').replace(/\/ws$/, '/healthz'));
    expect(health.status).toBe(200);
    const left = await idleAgents();
    expect(left.map((a) => a.name).sort()).toEqual(agents.slice(0, AGENTS - 1).map((a) => a.name));
    expect(left.every((a) => a.state === 'idle')).toBe(true);
  });
});
