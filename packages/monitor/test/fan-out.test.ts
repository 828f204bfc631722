import { BadOptionError, CapExceededError, LAB_VERSION } from '@kalab/core';
import type { ResolvedCaps } from '@kalab/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { splitFanOut } from '../src/fan-out-split.js';
import { createMonitor, type Monitor } from '../src/index.js';
import { report, TestPeer, tick, V } from './test-peer.js';

const TOKEN = 'fan-out-test-token';
const TARGET = 'http://127.0.0.1:8080/';
const monitors: Monitor[] = [];
const peers: TestPeer[] = [];

const caps = (maxConnections = 1000, maxDurationMs = 60_000): ResolvedCaps => ({
  maxConnections,
  maxDurationMs,
  allowTargets: null,
});
const wireCaps = { maxConnections: 1000, maxDurationMs: 60_000, allowTargets: null };

async function start(): Promise<Monitor> {
  const m = await createMonitor({ port: 0, sampleLocalTcp: false, token: TOKEN, heartbeatMs: 60_000 });
  monitors.push(m);
  return m;
}

async function agent(m: Monitor, name: string, hello: Record<string, unknown> = {}): Promise<TestPeer> {
  const p = await TestPeer.connect(m.url, { role: 'agent', name, token: TOKEN, cores: 2, caps: wireCaps, ...hello });
  peers.push(p);
  return p;
}

async function viewer(m: Monitor): Promise<TestPeer> {
  const p = await TestPeer.connect(m.url, { role: 'viewer', name: 'cli', token: TOKEN });
  peers.push(p);
  return p;
}

type Msg = Record<string, unknown>;
const is = (type: string) => (m: Msg) => m['type'] === type;

/**
 * Plays an agent's side of a held run: run-start → run-ready → four clock pongs (its clock
 * `skewMs` ahead) → run-go. Resolves with the run-start and the run-go it got.
 */
async function playAgent(p: TestPeer, skewMs: number): Promise<{ start: Msg; go: Msg }> {
  const start = await p.next(is('run-start'));
  const pinged = p.next(is('clock-ping'));
  p.send({ v: V, type: 'run-ready', runId: start['runId'] });
  let ping = await pinged;
  for (let i = 0; i < 4; i++) {
    const next = i < 3 ? p.next(is('clock-ping')) : p.next(is('run-go'));
    p.send({ v: V, type: 'clock-pong', id: ping['id'], t0: ping['t0'], at: Date.now() + skewMs });
    if (i < 3) ping = await next;
    else return { start, go: await next };
  }
  throw new Error('unreachable');
}

afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.terminate();
  for (const m of monitors.splice(0)) await m.close();
});

describe('splitFanOut', () => {
  const four = ['a', 'b', 'c', 'd'].map((name) => ({ name, caps: caps() }));

  it('splits -c 16 -n 8000 -R 100 evenly over four agents', () => {
    const s = splitFanOut({ target: TARGET, connections: 16, requests: 8000, rate: 100 }, four);
    expect(s.map((x) => [x.connections, x.requests, x.rate])).toEqual([
      [4, 2000, 25],
      [4, 2000, 25],
      [4, 2000, 25],
      [4, 2000, 25],
    ]);
  });

  it('gives the first agents the remainders and requests in proportion to connections', () => {
    const s = splitFanOut({ target: TARGET, connections: 17, requests: 1000 }, four);
    expect(s.map((x) => x.connections)).toEqual([5, 4, 4, 4]);
    expect(s.map((x) => x.requests)).toEqual([295, 235, 235, 235]);
  });

  it("respects each agent's --max-connections: what one cannot take goes to those with room", () => {
    const agents = [
      { name: 'small', caps: caps(2) },
      { name: 'big-1', caps: caps(100) },
      { name: 'big-2', caps: caps(100) },
    ];
    const s = splitFanOut({ target: TARGET, connections: 16, requests: 1600 }, agents);
    expect(s.map((x) => x.connections)).toEqual([2, 7, 7]);
    expect(s.map((x) => x.requests)).toEqual([200, 700, 700]);
  });

  it('refuses what the agents cannot hold together, naming each agent and its cap', () => {
    const agents = [
      { name: 'a', caps: caps(5) },
      { name: 'b', caps: caps(5) },
    ];
    expect(() => splitFanOut({ target: TARGET, connections: 11 }, agents)).toThrow(CapExceededError);
    expect(() => splitFanOut({ target: TARGET, connections: 11 }, agents)).toThrow(
      '-c 11 is more than the 2 agents hold together (10): a --max-connections 5, b --max-connections 5',
    );
  });

  it('names the agent whose --max-duration or --allow-target a slice breaks', () => {
    const agents = [
      { name: 'long', caps: caps(100, 120_000) },
      { name: 'short', caps: caps(100, 1000) },
    ];
    expect(() => splitFanOut({ target: TARGET, connections: 2, durationMs: 2000 }, agents)).toThrow(
      "agent short refuses its share: a 2000 ms run is longer than this agent's --max-duration 1000 ms",
    );
    expect(() => splitFanOut({ target: 'http://10.9.9.9/', connections: 2 }, agents)).toThrow(
      'agent long refuses its share: target 10.9.9.9 is not loopback and this agent has no --allow-target',
    );
  });

  it("refuses a request body larger than an agent's --max-body-bytes up front, naming the agent and the cap (bad input: no split helps)", () => {
    const agents = [
      { name: 'big', caps: { ...caps(), maxBodyBytes: 1024 } },
      { name: 'small', caps: { ...caps(), maxBodyBytes: 10 } },
      // An agent whose hello did not say: not checked here (it still refuses its share itself).
      { name: 'unsaid', caps: caps() },
    ];
    const eleven = { target: TARGET, connections: 3, body: 'x'.repeat(11) };
    expect(() => splitFanOut(eleven, agents)).toThrow(BadOptionError);
    expect(() => splitFanOut(eleven, agents)).toThrow(
      "agent small refuses the run: a 11-byte request body is more than this agent's --max-body-bytes 10",
    );
    // Bytes, not characters: 16 base64 characters are 12 bytes; 'é' is 2 bytes in utf8.
    expect(() =>
      splitFanOut({ target: TARGET, connections: 3, body: 'AAAAAAAAAAAAAAAA', bodyEncoding: 'base64' }, agents),
    ).toThrow(/a 12-byte request body .* --max-body-bytes 10/);
    expect(splitFanOut({ target: TARGET, connections: 3, body: 'x'.repeat(10) }, agents)).toHaveLength(3);
    expect(splitFanOut({ target: TARGET, connections: 3, body: 'é'.repeat(5) }, agents)).toHaveLength(3);
    expect(() => splitFanOut({ target: TARGET, connections: 3, body: 'é'.repeat(6) }, agents)).toThrow(/12-byte/);
  });

  it('refuses fewer connections or requests than agents (bad input, not caps)', () => {
    expect(() => splitFanOut({ target: TARGET, connections: 3 }, four)).toThrow(BadOptionError);
    expect(() => splitFanOut({ target: TARGET, connections: 3 }, four)).toThrow(
      '-c 3 cannot be split over 4 agents: each agent needs at least one connection',
    );
    expect(() => splitFanOut({ target: TARGET, connections: 4, requests: 3 }, four)).toThrow(/-n 3 cannot be split/);
  });
});

describe('monitor fan-out', () => {
  it('refuses an agent of another lab version, and says so on both sides', async () => {
    const m = await start();
    const warnings: string[] = [];
    m.on('warning', (e) => warnings.push(e.message));
    const p = new TestPeer(m.url);
    peers.push(p);
    await p.opened;
    const answer = p.next(is('error'));
    p.send({ v: V, type: 'hello', role: 'agent', name: 'old', host: 'h', version: '0.0.9', token: TOKEN });
    const err = await answer;
    expect(err['code']).toBe('KALAB_ERR_UNSUPPORTED');
    expect(err['message']).toBe(
      `agent version 0.0.9 does not match this monitor's version ${LAB_VERSION}: run the same kalab version on both`,
    );
    expect((await p.closed).code).toBe(1008);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^refused 127\.0\.0\.1:\d+: agent version 0\.0\.9 does not match/);
  });

  it("a fan-out whose body is larger than an agent's announced --max-body-bytes is refused before any agent starts", async () => {
    const m = await start();
    const roomy = await agent(m, 'roomy', { caps: { ...wireCaps, maxBodyBytes: 65_536 } });
    const tight = await agent(m, 'tight', { caps: { ...wireCaps, maxBodyBytes: 4 } });
    const v = await viewer(m);
    const answer = v.next(is('error'));
    v.send({
      v: V,
      type: 'fanout-start',
      runId: 'body',
      agents: 'all',
      options: { target: TARGET, connections: 2, requests: 2, body: 'hello' },
    });
    expect(await answer).toMatchObject({
      code: 'KALAB_ERR_BAD_OPTION',
      message: "agent tight refuses the run: a 5-byte request body is more than this agent's --max-body-bytes 4",
    });
    // Nothing was started: both agents are still idle and got no run-start.
    const list = v.next(is('agents'));
    v.send({ v: V, type: 'agents-list' });
    const agents = (await list)['agents'] as Msg[];
    expect(agents.map((a) => [a['name'], a['state'], (a['caps'] as Msg)['maxBodyBytes']])).toEqual([
      ['roomy', 'idle', 65_536],
      ['tight', 'idle', 4],
    ]);
    for (const p of [roomy, tight]) expect(p.messages.some(is('run-start'))).toBe(false);
  });

  it('lists connected agents with their cores, caps and state (not sources that take no runs)', async () => {
    const m = await start();
    await agent(m, 'a1');
    await agent(m, 'a2', {
      cores: 8,
      caps: { maxConnections: 50, maxDurationMs: 5000, allowTargets: ['10.0.0.1:80'] },
    });
    // An agent-role source that takes no runs (a standalone kalab loadgen --monitor announces no caps).
    await agent(m, 'streams-only', { caps: undefined, cores: undefined });
    const v = await viewer(m);
    const list = v.next(is('agents'));
    v.send({ v: V, type: 'agents-list' });
    const agents = (await list)['agents'] as Msg[];
    expect(agents).toEqual([
      { name: 'a1', host: 'test-host', version: LAB_VERSION, cores: 2, caps: wireCaps, state: 'idle' },
      {
        name: 'a2',
        host: 'test-host',
        version: LAB_VERSION,
        cores: 8,
        caps: { maxConnections: 50, maxDurationMs: 5000, allowTargets: ['10.0.0.1:80'] },
        state: 'idle',
      },
    ]);
  });

  it('holds every agent until all are ready, then starts them at one instant on each clock; merges progress; hands over every report', async () => {
    const m = await start();
    const a = await agent(m, 'ahead');
    const b = await agent(m, 'exact');
    const v = await viewer(m);
    const started = v.next(is('fanout-started'));
    v.send({
      v: V,
      type: 'fanout-start',
      runId: 'fo1',
      agents: 'all',
      options: { target: TARGET, connections: 4, requests: 100 },
    });
    // "ahead" runs its clock 5 s fast: its start instant must be 5 s later on its own clock.
    const [pa, pb] = await Promise.all([playAgent(a, 5000), playAgent(b, 0)]);
    expect(pa.start).toMatchObject({ runId: 'fo1.1', hold: true, options: { connections: 2, requests: 50 } });
    expect(pb.start).toMatchObject({ runId: 'fo1.2', hold: true, options: { connections: 2, requests: 50 } });
    const skew = (pa.go['startAt'] as number) - (pb.go['startAt'] as number);
    expect(Math.abs(skew - 5000)).toBeLessThanOrEqual(20);
    const s = await started;
    expect(
      (s['agents'] as Msg[]).map((x) => [
        x['name'],
        Math.abs((x['offsetMs'] as number) - (x['name'] === 'ahead' ? 5000 : 0)) <= 20,
      ]),
    ).toEqual([
      ['ahead', true],
      ['exact', true],
    ]);
    const progress = v.next(
      (x) => is('fanout-progress')(x) && ((x['tick'] as Msg)['totals'] as Msg)['requests'] === 30,
    );
    a.send(tick(1, { requests: 10, connectionsOpened: 2 }, { runId: 'fo1.1' }));
    b.send(tick(1, { requests: 20, connectionsOpened: 2 }, { runId: 'fo1.2' }));
    const p = await progress;
    expect((p['tick'] as Msg)['totals']).toMatchObject({ requests: 30, connectionsOpened: 4 });
    expect(p['agents']).toEqual([
      { name: 'ahead', state: 'running', totals: { requests: 10, connectionsOpened: 2, errors: 0 } },
      { name: 'exact', state: 'running', totals: { requests: 20, connectionsOpened: 2, errors: 0 } },
    ]);
    const done = v.next(is('fanout-report'));
    a.send({ v: V, type: 'run-report', runId: 'fo1.1', report: report(TARGET, 50, 2) });
    b.send({ v: V, type: 'run-report', runId: 'fo1.2', report: report(TARGET, 50, 2) });
    const parts = (await done)['parts'] as Msg[];
    expect(
      parts.map((x) => [x['name'], x['outcome'], (x['report'] as { requests: { ok: number } }).requests.ok]),
    ).toEqual([
      ['ahead', 'complete', 50],
      ['exact', 'complete', 50],
    ]);
  });

  it('an agent lost mid-run: the others finish, the lost one comes back with its last tick', async () => {
    const m = await start();
    const a = await agent(m, 'stays');
    const b = await agent(m, 'dies');
    const v = await viewer(m);
    v.send({
      v: V,
      type: 'fanout-start',
      runId: 'fo2',
      agents: 2,
      options: { target: TARGET, connections: 2, durationMs: 5000 },
    });
    await Promise.all([playAgent(a, 0), playAgent(b, 0)]);
    const ticked = v.next((x) => is('fanout-progress')(x) && ((x['tick'] as Msg)['totals'] as Msg)['requests'] === 77);
    b.send(tick(1, { requests: 77, connectionsOpened: 1 }, { runId: 'fo2.2', errors: { ECONNRESET: 2 } }));
    await ticked;
    b.ws.terminate();
    const done = v.next(is('fanout-report'));
    a.send({ v: V, type: 'run-report', runId: 'fo2.1', report: report(TARGET, 90, 1) });
    const parts = (await done)['parts'] as Msg[];
    expect(parts[0]).toMatchObject({ name: 'stays', outcome: 'complete' });
    expect(parts[1]).toMatchObject({
      name: 'dies',
      outcome: 'lost',
      last: { totals: { requests: 77, connectionsOpened: 1 }, errors: { ECONNRESET: 2 } },
    });
    expect(parts[1]!['report']).toBeUndefined();
  });

  it('an agent that refuses its share does not hold the others back', async () => {
    const m = await start();
    const a = await agent(m, 'willing');
    const b = await agent(m, 'refuses');
    const v = await viewer(m);
    const started = v.next(is('fanout-started'));
    v.send({
      v: V,
      type: 'fanout-start',
      runId: 'fo7',
      agents: 2,
      options: { target: TARGET, connections: 2, requests: 10 },
    });
    const refusal = b
      .next(is('run-start'))
      .then((s) =>
        b.send({ v: V, type: 'run-refused', runId: s['runId'], code: 'KALAB_ERR_BUSY', message: 'busy elsewhere' }),
      );
    const [pa] = await Promise.all([playAgent(a, 0), refusal]);
    expect(pa.go['runId']).toBe('fo7.1');
    expect(((await started)['agents'] as Msg[]).map((x) => x['name'])).toEqual(['willing']);
    const done = v.next(is('fanout-report'));
    a.send({ v: V, type: 'run-report', runId: 'fo7.1', report: report(TARGET, 5, 1) });
    const parts = (await done)['parts'] as Msg[];
    expect(parts.map((x) => [x['name'], x['outcome'], x['message']])).toEqual([
      ['willing', 'complete', undefined],
      ['refuses', 'refused', 'busy elsewhere'],
    ]);
  });

  it('stop (run-stop with the fan-out id) reaches every agent', async () => {
    const m = await start();
    const a = await agent(m, 'one');
    const b = await agent(m, 'two');
    const v = await viewer(m);
    v.send({
      v: V,
      type: 'fanout-start',
      runId: 'fo3',
      agents: 'all',
      options: { target: TARGET, connections: 2, durationMs: 5000 },
    });
    await Promise.all([playAgent(a, 0), playAgent(b, 0)]);
    const stops = Promise.all([a.next(is('run-stop')), b.next(is('run-stop'))]);
    v.send({ v: V, type: 'run-stop', runId: 'fo3' });
    expect((await stops).map((x) => x['runId'])).toEqual(['fo3.1', 'fo3.2']);
  });

  it('says how many agents are connected when asked for more, and that busy agents are busy', async () => {
    const m = await start();
    const a = await agent(m, 'only-1');
    await agent(m, 'only-2');
    const v = await viewer(m);
    const err = v.next(is('error'));
    v.send({ v: V, type: 'fanout-start', runId: 'fo4', agents: 3, options: { target: TARGET, connections: 3 } });
    expect(await err).toMatchObject({
      code: 'KALAB_ERR_UNREACHABLE',
      message: '--agents 3: only 2 idle agents are connected (2 connected)',
    });
    // One agent taken by a fan-out of one: the next asking for two gets the count of idle ones.
    v.send({ v: V, type: 'fanout-start', runId: 'fo5', agents: 1, options: { target: TARGET, connections: 1 } });
    await Promise.race([a.next(is('run-start')), peers[1]!.next(is('run-start'))]);
    const busy = v.next(is('error'));
    v.send({ v: V, type: 'fanout-start', runId: 'fo6', agents: 2, options: { target: TARGET, connections: 2 } });
    expect((await busy)['message']).toBe('--agents 2: only 1 idle agent is connected (2 connected)');
  });
});
