import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPeer } from '../../packages/monitor/test/test-peer.js';
import { SnapshotSchema } from '../../packages/protocol/src/index.js';
import { hasCommand, isRoot, missing } from '../support/needs.js';
import { agentArgs, kalab, NetnsPair, type Proc } from './monitor-procs.js';

const HEARTBEAT_MS = 300;
const TOKEN = 'e2e-token-for-a-private-namespace';

interface Snap {
  sources: {
    name: string;
    host: string;
    role: string;
    connected: boolean;
    lost: boolean;
    runId?: string;
    totals: { requests: number; connectionsOpened: number };
  }[];
  hosts: Record<string, { states: Record<string, number> }>;
}
interface Rep {
  requests: { completed: number; sent: number };
  connections: { opened: number };
  stoppedEarly?: string;
}

/**
 * "Launch loadgen on a separate machine", emulated: the server and the monitor on this side
 * of a veth pair, an agent in its own network and UTS namespace (its own host name) on the other.
 */
describe.skipIf(missing('root with ip netns and unshare --uts', isRoot() && hasCommand('ip') && hasCommand('unshare')))(
  'monitor with an agent on another (emulated) machine',
  () => {
    const pair = new NetnsPair();
    const procs: Proc[] = [];
    let recordDir = '';
    let monitor: Proc;
    let serverUrl = '';
    let monitorUrl = '';
    let viewer: TestPeer;
    let agentN = 0;

    const agentHost = (i: number) => `kalab-agent-${process.pid % 1000}-${i}`;

    function startAgent(): { proc: Proc; name: string; host: string } {
      const i = ++agentN;
      const name = `agent-${i}`;
      const port = new URL(serverUrl).port;
      const proc = pair.kalab(
        agentHost(i),
        agentArgs({ monitor: monitorUrl, token: TOKEN, name, allow: [`${pair.hostAddr}:${port}`] }),
      );
      procs.push(proc);
      return { proc, name, host: agentHost(i) };
    }

    async function snapshot(pred: (s: Snap) => boolean, timeoutMs = 20_000): Promise<Snap> {
      const m = await viewer.next((x) => x['type'] === 'snapshot' && pred(x as unknown as Snap), timeoutMs);
      return m as unknown as Snap;
    }

    function startRun(runId: string, options: Record<string, unknown>): void {
      viewer.send({ v: 1, type: 'run-start', runId, options: { target: serverUrl, ...options } });
    }

    beforeAll(async () => {
      pair.up();
      recordDir = mkdtempSync(join(tmpdir(), 'kalab-e2e-rec-'));
      monitor = kalab([
        'monitor',
        '--listen',
        `${pair.hostAddr}:0`,
        '--token',
        TOKEN,
        '--record',
        recordDir,
        '--heartbeat',
        String(HEARTBEAT_MS),
        '--snapshot-interval',
        '100',
      ]);
      procs.push(monitor);
      monitorUrl = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
      // The server reports its own ledger to the monitor too: an independent count of the same run.
      const server = kalab([
        'server',
        '--host',
        pair.hostAddr,
        '--port',
        '0',
        '--monitor',
        monitorUrl,
        '--token',
        TOKEN,
      ]);
      procs.push(server);
      serverUrl = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
      viewer = await TestPeer.connect(monitorUrl, { role: 'viewer', name: 'e2e', token: TOKEN });
    });

    afterAll(() => {
      viewer?.ws.terminate();
      for (const p of procs) p.kill();
      pair.down();
      if (recordDir) rmSync(recordDir, { recursive: true, force: true });
    });

    it('shows the agent host with the TIME_WAIT a --no-keepalive run leaves on the client, and totals equal to its report', async () => {
      const agent = startAgent();
      await snapshot((s) => s.sources.some((x) => x.name === agent.name && x.connected));
      startRun('nokeepalive-1', { requests: 400, connections: 4, keepAlive: false });
      const line = await agent.proc.waitFor(/^(\{"schema":"kalab\.report\/v1".*)$/m, 60_000);
      const report = JSON.parse(line[1]!) as Rep;
      expect(report.requests.completed).toBe(400);
      expect(report.connections.opened).toBe(400);
      const s = await snapshot(
        (x) =>
          x.sources.find((y) => y.name === agent.name)?.totals.requests === 400 &&
          (x.hosts[agent.host]?.states['TIME_WAIT'] ?? 0) >= 400,
      );
      expect(() => SnapshotSchema.parse(s)).not.toThrow();
      const src = s.sources.find((y) => y.name === agent.name)!;
      expect(src).toMatchObject({ role: 'agent', host: agent.host, connected: true, lost: false });
      expect(src.totals).toEqual({
        requests: report.requests.completed,
        connectionsOpened: report.connections.opened,
        errors: 0,
      });
      // The server's own ledger, reported separately, counts the same 400 requests on 400 connections;
      // the merged totals count the load side once, not twice.
      const withServer = await snapshot((x) => x.sources.some((y) => y.role === 'server' && y.totals.requests === 400));
      expect(withServer.sources.find((y) => y.role === 'server')!.totals).toMatchObject({
        requests: 400,
        connectionsOpened: 400,
      });
      expect((withServer as unknown as { merged: { requests: number } }).merged.requests).toBe(400);
      // The client closed first, so the 400 TIME_WAIT sockets sit in the agent's namespace, not on the server's side.
      expect(s.hosts[agent.host]!.states['TIME_WAIT']).toBe(400);
      // Two distinct hosts: the monitor's own (sampled locally) and the agent's.
      expect(Object.keys(s.hosts).length).toBeGreaterThanOrEqual(2);
      // The same picture over HTTP.
      const api = (await (
        await fetch(monitorUrl.replace('ws://', 'http://').replace(/\/ws$/, '/api/snapshot'))
      ).json()) as Snap;
      expect(api.sources.find((y) => y.name === agent.name)?.totals.requests).toBe(400);
      expect(api.hosts[agent.host]?.states['TIME_WAIT']).toBe(400);
      // The run was recorded, ending with the agent's report.
      await monitor.waitFor(/run nokeepalive-1 on agent-1: 400 requests, 400 connections; recorded to (\S+)/);
      expect(readdirSync(recordDir).some((f) => f.endsWith('nokeepalive-1.jsonl'))).toBe(true);
      agent.proc.kill('SIGTERM');
      await agent.proc.exited;
    });

    it('kill -9 of an agent mid-run: marked lost within two heartbeats, its data kept', async () => {
      const agent = startAgent();
      await snapshot((s) => s.sources.some((x) => x.name === agent.name && x.connected));
      startRun('killed-agent', { durationMs: 20_000, connections: 2, workers: 1 });
      const before = await snapshot((s) => (s.sources.find((x) => x.name === agent.name)?.totals.requests ?? 0) > 0);
      const requests = before.sources.find((x) => x.name === agent.name)!.totals.requests;
      const t0 = Date.now();
      agent.proc.kill('SIGKILL');
      const after = await snapshot((s) => s.sources.find((x) => x.name === agent.name)?.lost === true, 5000);
      expect(Date.now() - t0).toBeLessThanOrEqual(2 * HEARTBEAT_MS + 400);
      const src = after.sources.find((x) => x.name === agent.name)!;
      expect(src.connected).toBe(false);
      expect(src.totals.requests).toBeGreaterThanOrEqual(requests);
    });

    it('a hung agent (SIGSTOP, its sockets still open) is lost by heartbeat within two intervals, and comes back on SIGCONT', async () => {
      const agent = startAgent();
      await snapshot((s) => s.sources.some((x) => x.name === agent.name && x.connected));
      startRun('hung-agent', { durationMs: 4000, connections: 1, workers: 1 });
      await snapshot((s) => (s.sources.find((x) => x.name === agent.name)?.totals.requests ?? 0) > 0);
      const t0 = Date.now();
      agent.proc.kill('SIGSTOP');
      try {
        await snapshot((s) => s.sources.find((x) => x.name === agent.name)?.lost === true, 5000);
        expect(Date.now() - t0).toBeLessThanOrEqual(2 * HEARTBEAT_MS + 500);
      } finally {
        agent.proc.kill('SIGCONT');
      }
      // MonitorLink notices its dropped socket, reconnects, and the run's report still arrives.
      const back = await snapshot((s) => {
        const src = s.sources.find((x) => x.name === agent.name);
        return src?.connected === true && src.lost === false;
      }, 15_000);
      expect(back.sources.filter((x) => x.name === agent.name)).toHaveLength(1);
      const line = await agent.proc.waitFor(/^(\{"schema":"kalab\.report\/v1".*)$/m, 30_000);
      const report = JSON.parse(line[1]!) as Rep;
      await snapshot(
        (s) => s.sources.find((x) => x.name === agent.name)?.totals.requests === report.requests.completed,
        15_000,
      );
      agent.proc.kill('SIGTERM');
      await agent.proc.exited;
    });

    it('kill -9 of the monitor mid-run: the agent finishes its run and prints its report', async () => {
      const agent = startAgent();
      await snapshot((s) => s.sources.some((x) => x.name === agent.name && x.connected));
      startRun('orphan', { durationMs: 2500, connections: 2, workers: 1 });
      await snapshot((s) => (s.sources.find((x) => x.name === agent.name)?.totals.requests ?? 0) > 0);
      monitor.kill('SIGKILL');
      await monitor.exited;
      await agent.proc.waitFor(/monitor connection closed/, 10_000, 'stderr');
      const line = await agent.proc.waitFor(/^(\{"schema":"kalab\.report\/v1".*)$/m, 30_000);
      const report = JSON.parse(line[1]!) as Rep;
      expect(report.requests.completed).toBeGreaterThan(0);
      expect(report.stoppedEarly).toBeUndefined();
      // Still alive, still trying to reach its monitor.
      expect(agent.proc.child.exitCode).toBeNull();
    });
  },
);
