import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../packages/monitor/src/index.js';
import { kalab, type Proc } from './monitor-procs.js';

const DASHBOARD = new URL('../../deploy/grafana/kalab-monitor.json', import.meta.url);

interface Selector {
  metric: string;
  /** label="value" matchers (regex matchers only name the metric). */
  equals: [string, string][];
}

/** Every metric selector of every query of the dashboard: `name{label="v",...}`. */
function selectors(): { expr: string; sel: Selector }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const out: { expr: string; sel: Selector }[] = [];
  for (const p of dash.panels)
    for (const t of p.targets ?? [])
      for (const m of t.expr.matchAll(/\b(kalab_[a-z_]+)(\{[^}]*\})?/g)) {
        const equals = [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((e) => [e[1]!, e[2]!] as [string, string]);
        out.push({ expr: t.expr, sel: { metric: m[1]!, equals } });
      }
  return out;
}

describe('deploy/grafana/kalab-monitor.json against a real /metrics scrape', () => {
  let monitor: Monitor;
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) p.kill();
    await monitor?.close();
  });

  it('after a run (one good loadgen, one against a closed port), every metric and label value the queries select has samples', async () => {
    monitor = await createMonitor({ port: 0 });
    const server = kalab(['server', '--port', '0', '--monitor', monitor.url]);
    procs.push(server);
    const target = `${(await server.waitFor(/listening on (http:\/\/\S+)/))[1]!.replace(/\/?$/, '/')}`;
    const good = kalab([
      'loadgen',
      target,
      '-c',
      '2',
      '-n',
      '400',
      '--no-keepalive',
      '--monitor',
      monitor.url,
      '--name',
      'good',
    ]);
    procs.push(good);
    expect(await good.exited).toBe(0);
    // Port 1 on loopback: nothing listens, so the errors panel has a code to show.
    const refused = kalab([
      'loadgen',
      'http://127.0.0.1:1/',
      '-c',
      '1',
      '-n',
      '5',
      '--monitor',
      monitor.url,
      '--name',
      'refused',
    ]);
    procs.push(refused);
    await refused.exited;
    const text = await (await fetch(`${monitor.httpUrl}/metrics`)).text();

    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    const sels = selectors();
    expect(sels.length).toBeGreaterThan(15);
    for (const { expr, sel } of sels) {
      // Documented as absent while no host's ephemeral ports are growing: the family must still be declared.
      if (sel.metric === 'kalab_ephemeral_ports_exhaustion_seconds') {
        expect(text, expr).toContain(`# TYPE ${sel.metric} gauge`);
        continue;
      }
      const hits = samples.filter(
        (l) =>
          (l.startsWith(`${sel.metric}{`) || l.startsWith(`${sel.metric} `)) &&
          sel.equals.every(([k, v]) => l.includes(`${k}="${v}"`)),
      );
      expect(hits.length, `${expr}: no sample of ${sel.metric} ${JSON.stringify(sel.equals)}`).toBeGreaterThan(0);
    }
    expect(samples.some((l) => l.startsWith('kalab_errors_total{') && l.includes('code="ECONNREFUSED"'))).toBe(true);
  });
});
