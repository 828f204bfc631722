import { getScenario } from '@kalab/scenarios';
import { describe, expect, it } from 'vitest';
import { formatScenarioList, formatScenarioResult, listScenarios } from '../src/index.js';

describe('scenario printer', () => {
  it('prints what ran with Go and Node names, the netstat and packet views, the verdict and why', () => {
    const def = getScenario('seq-unread-body');
    const text = formatScenarioResult({
      scenario: def.name,
      title: def.title,
      origin: def.origin,
      section: def.section,
      expected: { result: def.expectedText, checks: [] },
      observed: {
        connectionsOpened: 10,
        synSent: 10,
        timeWait: { client: 10, server: 0 },
        errors: {},
        requests: { sent: 10, ok: 10, failed: 0 },
        reusedRequests: 0,
        states: { client: { TIME_WAIT: 10 }, server: { LISTEN: 1 } },
        durationMs: 300,
        latencyMs: { p50: 0.75, p99: 13.2, max: 13.2 },
      },
      pass: true,
      checks: [
        {
          metric: 'connectionsOpened',
          op: 'eq',
          expected: 10,
          actual: 10,
          pass: true,
          skipped: false,
          says: 'the article: 10',
        },
      ],
      settings: {
        phases: [
          {
            name: 'main',
            title: 'x',
            settings: [
              {
                label: 'idle connections kept per host',
                value: '2',
                go: 'Transport.MaxIdleConnsPerHost (default 2)',
                node: 'http.Agent({ maxFreeSockets })',
              },
            ],
          },
        ],
        sandbox: [],
      },
      sandbox: { mode: 'namespace', portRange: [32768, 60999], tcpTwReuse: 0 },
      faithful: false,
      explanation: def.explanation,
      durationMs: 300,
    });
    expect(text).toContain('MaxIdleConnsPerHost');
    expect(text).toContain('maxFreeSockets');
    expect(text).toMatch(/TIME_WAIT\s+10\s+0/);
    expect(text).toContain('SYNs sent (ActiveOpens delta): 10');
    expect(text).toContain('latency p50 0.75 ms, p99 13.2 ms, max 13.2 ms');
    expect(text).toContain('Verdict: PASS');
    expect(text).toContain('✓ connectionsOpened = 10: observed 10');
    expect(text).toContain('Why');
  });

  it('lists every scenario with its expected result', () => {
    const text = formatScenarioList(listScenarios());
    for (const d of listScenarios()) expect(text).toContain(d.name);
    expect(text).toContain('expected: 10 TCP connections');
  });

  it('listScenarios() is what `kalab scenario --list --json` prints: name, title, origin, section, expected', () => {
    const list = listScenarios();
    expect(list).toHaveLength(12);
    expect(list.find((s) => s.name === 'seq-read-body')).toEqual({
      name: 'seq-read-body',
      title: 'Sequential requests, response bodies read to the end',
      origin: 'article',
      section: 'Sequential requests (persistent connection)',
      expected: '1 TCP connection, one SYN in the capture',
    });
  });
});
