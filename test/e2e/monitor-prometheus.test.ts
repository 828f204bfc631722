import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestPeer } from '../../packages/monitor/test/test-peer.js';
import { hasCommand, missing } from '../support/needs.js';
import { agentArgs, kalab, type Proc } from './monitor-procs.js';

const TOKEN = 'e2e-prometheus-token';

/** Parses exposition text into samples (promtool has checked the syntax; label values here hold no commas or quotes). */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels include `labels`; undefined when none matches. */
function total(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples(text).filter(
    (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  );
  return hits.length ? hits.reduce((a, x) => a + x.value, 0) : undefined;
}

/**
 * `/metrics` passes `promtool check metrics` (the Prometheus project's own lint:
 * base units, `_total` counters, HELP on every family) once the monitor has seen everything
 * it exposes: a server, an agent, a run that succeeded and a run whose every request failed.
 */
describe.skipIf(missing('promtool (Debian package prometheus)', hasCommand('promtool')))(
  'kalab monitor /metrics under promtool',
  () => {
    const procs: Proc[] = [];
    let resetter: Server;
    let metricsUrl = '';
    let viewer: TestPeer;
    let agent: Proc;
    let serverUrl = '';
    let resetUrl = '';

    beforeAll(async () => {
      // A server that accepts and resets every connection: each request fails.
      resetter = createServer((s) => s.resetAndDestroy());
      resetter.listen(0, '127.0.0.1');
      await once(resetter, 'listening');
      resetUrl = `http://127.0.0.1:${(resetter.address() as { port: number }).port}/`;

      const monitor = kalab(['monitor', '--listen', '127.0.0.1:0', '--token', TOKEN]);
      procs.push(monitor);
      const monitorUrl = (await monitor.waitFor(/listening on (ws:\/\/\S+)/))[1]!;
      metricsUrl = monitorUrl.replace('ws://', 'http://').replace(/\/ws$/, '/metrics');
      const server = kalab(['server', '--port', '0', '--monitor', monitorUrl, '--token', TOKEN]);
      procs.push(server);
      serverUrl = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
      agent = kalab(
        agentArgs({
          monitor: monitorUrl,
          token: TOKEN,
          name: 'prom-agent',
          allow: [`127.0.0.1:${new URL(serverUrl).port}`, `127.0.0.1:${new URL(resetUrl).port}`],
        }),
      );
      procs.push(agent);
      viewer = await TestPeer.connect(monitorUrl, { role: 'viewer', name: 'e2e', token: TOKEN });
      await viewer.next(
        (m) =>
          m['type'] === 'snapshot' &&
          (m['sources'] as { name: string; connected: boolean }[]).some((s) => s.name === 'prom-agent' && s.connected),
        20_000,
      );
    });

    afterAll(async () => {
      viewer?.ws.terminate();
      for (const p of procs) p.kill();
      await new Promise((r) => resetter?.close(r));
    });

    it('passes promtool check metrics after a server, an agent, a good run and a failing run', async () => {
      const reportLines = () => agent.stdout.match(/^\{"schema":"kalab\.report\/v1".*$/gm) ?? [];
      const run = async (runId: string, target: string, requests: number, connections: number) => {
        const before = reportLines().length;
        viewer.send({ v: 1, type: 'run-start', runId, options: { target, requests, connections, workers: 1 } });
        await vi.waitFor(() => expect(reportLines().length).toBe(before + 1), { timeout: 30_000, interval: 50 });
        return JSON.parse(reportLines()[before]!) as {
          requests: { ok: number; failed: number };
          connections: { opened: number };
          errors: Record<string, number>;
        };
      };
      const ok = await run('prom-ok', serverUrl, 40, 2);
      expect(ok.requests.ok).toBe(40);
      expect(ok.connections.opened).toBe(2);
      const failed = await run('prom-fail', resetUrl, 6, 1);
      expect(failed.requests.ok).toBe(0);
      expect(failed.requests.failed).toBe(6);

      // Wait until the monitor has folded both reports and the server's own count.
      let text = '';
      await vi.waitFor(
        async () => {
          text = await (await fetch(metricsUrl)).text();
          expect(total(text, 'kalab_errors_total', { name: 'prom-agent' })).toBe(6);
          expect(total(text, 'kalab_requests_total', { role: 'server' })).toBe(40);
        },
        { timeout: 10_000, interval: 200 },
      );
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
      expect(lint.stdout + lint.stderr).toBe('');
      expect(lint.status).toBe(0);

      // What the families say, in the names promtool accepts.
      expect(total(text, 'kalab_requests_total', { role: 'agent', name: 'prom-agent' })).toBe(40);
      // The resetting server accepted each connection before resetting it: those count as opened.
      expect(total(text, 'kalab_connections_opened_total', { role: 'agent', name: 'prom-agent' })).toBe(
        2 + failed.connections.opened,
      );
      expect(total(text, 'kalab_connections_opened_total', { role: 'server' })).toBe(2);
      for (const [code, n] of Object.entries(failed.errors))
        expect(total(text, 'kalab_errors_total', { name: 'prom-agent', code })).toBe(n);
      expect(total(text, 'kalab_source_connected', { name: 'prom-agent' })).toBe(1);
      expect(total(text, 'kalab_hub_peers', { role: 'agent' })).toBe(1);
      expect(total(text, 'kalab_hub_peers', { role: 'server' })).toBe(1);
      expect(total(text, 'kalab_hub_peers', { role: 'viewer' })).toBe(1);
      // Summaries (their values are checked exactly in packages/monitor/test/prometheus.test.ts).
      for (const f of ['kalab_merged_latency_seconds', 'kalab_merged_connect_seconds']) {
        expect(total(text, f, { quantile: '0.5' }), f).toBeDefined();
        expect(total(text, `${f}_count`), f).toBeDefined();
        expect(total(text, `${f}_sum`), f).toBeDefined();
      }
      expect(total(text, 'kalab_tcp_sockets', { state: 'LISTEN' })).toBeGreaterThanOrEqual(2);
      expect(text).not.toMatch(/milliseconds/);
      // promtool's lint fails on these; the old names are gone.
      const bad = spawnSync('promtool', ['check', 'metrics'], {
        input:
          '# HELP kalab_merged_latency_milliseconds x\n# TYPE kalab_merged_latency_milliseconds gauge\nkalab_merged_latency_milliseconds 1\n',
        encoding: 'utf8',
      });
      expect(bad.status).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/base unit "seconds"/);
    }, 90_000);
  },
);
