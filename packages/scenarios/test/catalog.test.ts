import { BadOptionError } from '@kalab/core';
import { describe, expect, it } from 'vitest';
import {
  describePhase,
  describeSandbox,
  expectedOf,
  getScenario,
  judgeScenario,
  metricValue,
  phaseGapMs,
  SCENARIOS,
  type ScenarioObserved,
  sumObserved,
} from '../src/catalog/index.js';

const observed = (over: Partial<ScenarioObserved> = {}): ScenarioObserved => ({
  connectionsOpened: 10,
  synSent: 10,
  timeWait: { client: 10, server: 0 },
  errors: {},
  requests: { sent: 10, ok: 10, failed: 0 },
  reusedRequests: 0,
  states: { client: { TIME_WAIT: 10 }, server: { LISTEN: 1 } },
  durationMs: 100,
  ...over,
});

describe('scenario catalog', () => {
  it('holds the article experiments and the lab ones, in order', () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([
      'seq-unread-body',
      'seq-read-body',
      'concurrent-default-pool',
      'concurrent-tuned-pool',
      'port-exhaustion',
      'http2-multiplexing',
      'keepalive-race',
      'server-max-requests',
      'who-holds-time-wait',
      'undici-unread-body',
      'tls-handshake-per-request',
      'tls-session-resumption',
    ]);
    expect(SCENARIOS.filter((s) => s.origin === 'article')).toHaveLength(6);
  });

  it('names every setting in Go and in Node', () => {
    for (const def of SCENARIOS) {
      for (const phase of def.phases) {
        const settings = describePhase(phase);
        expect(settings.length).toBeGreaterThan(3);
        for (const s of settings) {
          expect(s.go.length, `${def.name} ${s.label}`).toBeGreaterThan(0);
          expect(s.node.length, `${def.name} ${s.label}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('reproduces Go defaults: 2 idle connections per host, 10 when tuned', () => {
    expect(getScenario('concurrent-default-pool').phases[0]!.client.maxIdle).toBe(2);
    expect(getScenario('concurrent-tuned-pool').phases[0]!.client.maxIdle).toBe(10);
    const idle = describePhase(getScenario('concurrent-default-pool').phases[0]!).find((s) =>
      s.label.startsWith('idle connections'),
    );
    expect(idle).toMatchObject({
      value: '2',
      go: expect.stringContaining('MaxIdleConnsPerHost'),
      node: expect.stringContaining('maxFreeSockets'),
    });
  });

  it('runs port-exhaustion only in a namespace with a narrow range and tcp_tw_reuse=0', () => {
    const def = getScenario('port-exhaustion');
    expect(def.sandbox).toEqual({ namespace: 'required', portRange: [40000, 40499], tcpTwReuse: 0 });
    expect(describeSandbox(def).map((s) => s.value)).toEqual(['40000-40499 (500 ports)', '0']);
  });

  it('uses the article 1 s gap only when faithful', () => {
    const phase = getScenario('seq-unread-body').phases[0]!;
    expect(phaseGapMs(phase, false)).toBe(20);
    expect(phaseGapMs(phase, true)).toBe(1000);
  });

  it('answers an unknown name with a bad-option error listing the known ones', () => {
    expect(() => getScenario('nope')).toThrow(BadOptionError);
    expect(() => getScenario('nope')).toThrow(/seq-unread-body/);
  });

  it('bounds every phase in time and in requests', () => {
    for (const def of SCENARIOS) {
      for (const p of def.phases) {
        expect(p.timeoutMs).toBeLessThanOrEqual(30_000);
        expect(p.client.requests * p.client.concurrency).toBeLessThanOrEqual(1000);
      }
    }
  });
});

/** 500 connections in a 500-port range, every one in TIME_WAIT, then EADDRNOTAVAIL. */
const exhausted = (over: Partial<ScenarioObserved> = {}): ScenarioObserved =>
  observed({
    connectionsOpened: 500,
    synSent: 500,
    timeWait: { client: 500, server: 0 },
    portRangeSize: 500,
    errors: { EADDRNOTAVAIL: 500 },
    ...over,
  });

describe('judgeScenario', () => {
  it('passes 10 unread bodies = 10 connections = 10 SYNs = 10 TIME_WAIT', () => {
    const v = judgeScenario(getScenario('seq-unread-body'), observed(), { inNamespace: true });
    expect(v.pass).toBe(true);
    expect(v.checks).toHaveLength(3);
    expect(v.checks[1]).toMatchObject({
      metric: 'synSent',
      expected: 10,
      expectedFrom: 'connectionsOpened',
      actual: 10,
      pass: true,
    });
  });

  it('fails when the kernel counted more SYNs than the lab counted connections', () => {
    const v = judgeScenario(getScenario('seq-unread-body'), observed({ synSent: 11 }), { inNamespace: true });
    expect(v.pass).toBe(false);
    expect(v.checks.find((c) => !c.pass)).toMatchObject({ metric: 'synSent', actual: 11, expected: 10 });
  });

  it('skips kernel-counter checks on the host loopback', () => {
    const v = judgeScenario(getScenario('seq-unread-body'), observed({ synSent: 500 }), { inNamespace: false });
    expect(v.pass).toBe(true);
    expect(v.checks.find((c) => c.metric === 'synSent')).toMatchObject({ skipped: true });
  });

  it('reads per-phase metrics and counts a missing error code as zero', () => {
    const o = observed({ phases: { race: observed({ resetsOnReusedSocket: 2 }) } });
    expect(metricValue(o, 'phases.race.resetsOnReusedSocket')).toBe(2);
    expect(metricValue(o, 'errors.EADDRNOTAVAIL')).toBe(0);
    expect(metricValue(o, 'phases.nope.connectionsOpened')).toBeNull();
  });

  it('fails port-exhaustion without EADDRNOTAVAIL', () => {
    const def = getScenario('port-exhaustion');
    const o = exhausted({ errors: {} });
    expect(judgeScenario(def, o, { inNamespace: true }).pass).toBe(false);
    expect(
      judgeScenario(def, { ...o, errors: { EADDRNOTAVAIL: 500 }, openedBeforeExhaustion: 500 }, { inNamespace: true })
        .pass,
    ).toBe(true);
  });

  it('fails port-exhaustion when EADDRNOTAVAIL came before 95% of the range was used', () => {
    const def = getScenario('port-exhaustion');
    const o = exhausted();
    const at = (n: number | null) => judgeScenario(def, { ...o, openedBeforeExhaustion: n }, { inNamespace: true });
    expect(at(475).pass).toBe(true);
    expect(at(474).pass).toBe(false);
    expect(at(474).checks.find((c) => !c.pass)).toMatchObject({
      metric: 'openedBeforeExhaustion',
      op: 'gte',
      expected: 475,
      expectedFrom: '0.95×portRangeSize',
      actual: 474,
    });
    // Never exhausted: no number to judge, so the check fails rather than pass by default.
    expect(at(null).pass).toBe(false);
    expect(expectedOf(def).checks).toContainEqual({
      metric: 'openedBeforeExhaustion',
      op: 'gte',
      value: '0.95×portRangeSize',
    });
  });

  it('fails keepalive-race mitigations that claim 0 failures without meeting the server close', () => {
    const def = getScenario('keepalive-race');
    const phases = {
      race: observed({ resetsOnReusedSocket: 3, errors: { ECONNRESET: 3 } }),
      'client-timeout': observed({ clientIdleCloses: 63 }),
      'honour-hint': observed({ clientIdleCloses: 95 }),
      retry: observed({ resetsOnReusedSocket: 1, retries: 1 }),
    };
    const judge = (over: Partial<typeof phases>) =>
      judgeScenario(def, observed({ phases: { ...phases, ...over } }), { inNamespace: true });
    expect(judge({}).pass).toBe(true);
    const failing = (over: Partial<typeof phases>) =>
      judge(over)
        .checks.filter((c) => !c.pass)
        .map((c) => c.metric);
    expect(failing({ 'client-timeout': observed() })).toEqual(['phases.client-timeout.clientIdleCloses']);
    expect(failing({ 'honour-hint': observed({ clientIdleCloses: 0 }) })).toEqual([
      'phases.honour-hint.clientIdleCloses',
    ]);
    // A retry phase that met no reset proves nothing about retrying.
    expect(failing({ retry: observed({ resetsOnReusedSocket: 0, retries: 0 }) })).toEqual(['phases.retry.retries']);
    expect(failing({ retry: observed({ resetsOnReusedSocket: 2, retries: 1 }) })).toEqual(['phases.retry.retries']);
  });

  it('describes the expected outcome for --json', () => {
    expect(expectedOf(getScenario('seq-read-body'))).toMatchObject({
      result: '1 TCP connection, one SYN in the capture',
      checks: expect.arrayContaining([{ metric: 'connectionsOpened', op: 'eq', value: 1 }]),
    });
  });

  it('sums phases', () => {
    const s = sumObserved([
      observed(),
      observed({ timeWait: { client: 0, server: 10 }, errors: { ECONNRESET: 1 }, retries: 2 }),
    ]);
    expect(s).toMatchObject({
      connectionsOpened: 20,
      synSent: 20,
      timeWait: { client: 10, server: 10 },
      errors: { ECONNRESET: 1 },
      retries: 2,
    });
  });
});
