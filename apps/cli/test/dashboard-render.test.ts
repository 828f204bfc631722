import { PassThrough } from 'node:stream';
import { SnapshotSchema } from '@kalab/protocol';
import blessed from 'blessed';
import { afterEach, describe, expect, it } from 'vitest';
import { computeLayout, type Rect } from '../src/dashboard/layout.js';
import { initialStatus } from '../src/dashboard/model.js';
import { createDashboard, type Dashboard, type DashboardOptions } from '../src/dashboard/screen.js';
import { DashboardStore } from '../src/dashboard/store.js';
import { syntheticSnapshot } from './fixtures/synthetic-snapshot.mjs';

/** A blessed screen on a fake terminal of a fixed size; nothing reaches the real tty. */
function fakeScreen(cols: number, rows: number) {
  const output = Object.assign(new PassThrough(), { columns: cols, rows, isTTY: true });
  output.resume();
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
  const screen = blessed.screen({
    input,
    output,
    terminal: 'xterm-256color',
    fullUnicode: true,
    warnings: false,
    smartCSR: true,
  });
  return { screen, output, input };
}

const text = (screen: blessed.Widgets.Screen) =>
  ((screen as unknown as { lines: unknown }).lines as [unknown, string][][]).map((line) =>
    line.map((cell) => cell[1]).join(''),
  );

let open: Dashboard | null = null;
afterEach(() => {
  open?.destroy();
  open = null;
});

function render(
  cols: number,
  rows: number,
  snapshot: ReturnType<typeof syntheticSnapshot> | null = syntheticSnapshot({ at: Date.now() }),
  extra: Partial<DashboardOptions> = {},
) {
  const { screen, output, input } = fakeScreen(cols, rows);
  const store = new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:7070/ws', 'http://127.0.0.1:8080/'));
  store.patchStatus({ link: 'connected' });
  if (snapshot) store.setSnapshot(snapshot);
  const dashboard = createDashboard({
    store,
    screen,
    scenarios: () => [
      {
        name: 'seq-unread-body',
        description: '10 sequential requests, bodies never read',
        detail: 'Expected: 10 TCP connections.',
      },
      { name: 'seq-read-body', description: 'the same, bodies read', detail: 'Expected: 1 TCP connection.' },
    ],
    ...extra,
  });
  open = dashboard;
  dashboard.draw();
  return { dashboard, store, screen, output, input, lines: () => text(screen) };
}

/** Every bordered panel sits at its layout rectangle with all four sides intact. */
function expectPanelsIntact(lines: string[], cols: number, rows: number) {
  const layout = computeLayout(cols, rows);
  if (layout.tooSmall) throw new Error('layout too small');
  expect(lines).toHaveLength(rows);
  for (const line of lines) expect(line).toHaveLength(cols);
  const boxed = Object.entries(layout.panels).filter(([id]) => id !== 'header' && id !== 'footer') as [string, Rect][];
  for (const [id, r] of boxed) {
    const top = lines[r.top]!;
    const bottom = lines[r.top + r.height - 1]!;
    const right = r.left + r.width - 1;
    const where = `${id} at ${cols}x${rows}`;
    expect(top[r.left], where).toBe('┌');
    expect(top[right], where).toBe('┐');
    expect(bottom[r.left], where).toBe('└');
    expect(bottom[right], where).toBe('┘');
    expect(bottom.slice(r.left + 1, right), where).toMatch(/^─+$/);
    for (let y = r.top + 1; y < r.top + r.height - 1; y++) {
      expect(lines[y]![r.left], `${where} row ${y}`).toBe('│');
      expect(lines[y]![right], `${where} row ${y}`).toBe('│');
    }
  }
  // No two panels share a cell, and together with the header and footer they fill the screen.
  const owner: string[][] = Array.from({ length: rows }, () => new Array<string>(cols).fill(''));
  for (const [id, r] of Object.entries(layout.panels) as [string, Rect][]) {
    for (let y = r.top; y < r.top + r.height; y++) {
      for (let x = r.left; x < r.left + r.width; x++) {
        expect(owner[y]![x], `${id} overlaps ${owner[y]![x]} at ${x},${y}`).toBe('');
        owner[y]![x] = id;
      }
    }
  }
  expect(owner.flat().filter((o) => o === '')).toHaveLength(0);
}

describe('synthetic snapshot', () => {
  it('is a valid protocol snapshot', () => {
    expect(SnapshotSchema.safeParse(syntheticSnapshot()).success).toBe(true);
  });
});

describe('dashboard render at fixed sizes', () => {
  for (const [cols, rows] of [
    [80, 24],
    [160, 48],
    [200, 60],
  ] as const) {
    it(`${cols}x${rows}: every panel whole, titles and numbers on screen`, () => {
      const { lines } = render(cols, rows);
      const screen = lines();
      const all = screen.join('\n');
      expectPanelsIntact(screen, cols, rows);
      for (const title of [
        'Throughput',
        'TCP states',
        'TIME_WAIT',
        'Ephemeral ports',
        'Latency',
        'Errors',
        'Connections',
        'Findings',
      ]) {
        expect(all, title).toContain(title);
      }
      expect(all).toMatch(/req\/s 10,000/);
      expect(all).toMatch(/new conn\/s 900/);
      expect(all).toMatch(/TIME_WAIT +\S* +27,000/);
      expect(all).toMatch(/p99 3\.87/);
      expect(all).toMatch(/ECONNRESET +12/);
      expect(all).toMatch(/EADDRNOTAVAIL +3/);
      expect(all).toContain('96%');
      expect(all).toContain('full in 31s');
      expect(all).toMatch(/Connections · 108k opened/);
      // Live connections first, most requests first.
      expect(all).toMatch(/ESTABLISHED +\S*:40039 +\S*:8080 +40s +4,000/);
      expect(all).toContain('TIME_WAIT grows 900/s');
      expect(screen[0]).toContain('http://127.0.0.1:8080/');
      expect(screen[0]).toContain('port-exhaustion');
      expect(screen[0]).toContain('sources 2/2');
      expect(screen[rows - 1]).toContain('q quit');
    });
  }

  it('80x24 and 200x60 with no data yet: placeholders, no cut panel', () => {
    for (const [cols, rows] of [
      [80, 24],
      [200, 60],
    ] as const) {
      const { lines, dashboard } = render(cols, rows, null);
      const all = lines().join('\n');
      expectPanelsIntact(lines(), cols, rows);
      expect(all).toContain('waiting for a TCP sample');
      expect(all).toContain('no errors');
      expect(all).toContain('no connections');
      expect(all).toMatch(/TIME_WAIT +0/);
      dashboard.destroy();
    }
  });

  it('relayouts on resize from 80x24 to 200x60 and back without leftovers', async () => {
    const { output, lines, screen } = render(80, 24);
    const resized = new Promise((r) => screen.once('resize', r));
    Object.assign(output, { columns: 200, rows: 60 });
    output.emit('resize');
    await resized;
    expectPanelsIntact(lines(), 200, 60);
    const back = new Promise((r) => screen.once('resize', r));
    Object.assign(output, { columns: 80, rows: 24 });
    output.emit('resize');
    await back;
    expectPanelsIntact(lines(), 80, 24);
  });

  it('a terminal below 60x21 gets a message instead of cut panels', () => {
    const { lines } = render(50, 15);
    expect(lines().join('\n')).toContain('the dashboard needs 60×21 or more');
  });
});

describe('findings panel', () => {
  it("explains the scenario this dashboard ran before the monitor's findings", () => {
    const { store, dashboard, lines } = render(80, 24);
    store.patchStatus({
      run: {
        kind: 'scenario',
        name: 'seq-unread-body',
        state: 'done',
        startedAt: 0,
        endedAt: 1,
        explanation: ['Nobody read the bodies, so each request dialed anew.'],
      },
    });
    dashboard.draw();
    const all = lines().join('\n');
    expect(all).toMatch(/· seq-unread-body: Nobody read/);
    expect(all).toContain('dialed anew.');
    expect(lines()[1]).toContain('seq-unread-body done');
  });
});

describe('dashboard keys and render rate', () => {
  it('draws at most 4 times a second however fast snapshots arrive', async () => {
    const { store, dashboard } = render(80, 24);
    const before = dashboard.renders;
    const started = Date.now();
    while (Date.now() - started < 1500) {
      store.setSnapshot(syntheticSnapshot({ at: Date.now(), rps: 10_000 + (Date.now() % 1000) }));
      await new Promise((r) => setTimeout(r, 5));
    }
    const renders = dashboard.renders - before;
    expect(renders).toBeGreaterThanOrEqual(2);
    expect(renders).toBeLessThanOrEqual(7);
  });

  it('p pauses the view: new snapshots are not drawn until p again', async () => {
    const { store, dashboard, lines, input } = render(80, 24);
    input.write('p');
    await new Promise((r) => setImmediate(r));
    expect(store.status.paused).toBe(true);
    store.setSnapshot(syntheticSnapshot({ at: Date.now(), rps: 4321 }));
    dashboard.draw();
    expect(lines().join('\n')).toContain('req/s 10,000');
    expect(lines()[0]).toContain('PAUSED');
    input.write('p');
    await new Promise((r) => setImmediate(r));
    dashboard.draw();
    expect(lines().join('\n')).toContain('req/s 4,321');
  });

  it('? shows the help overlay with the key map; Escape hides it', async () => {
    const { dashboard, lines, input } = render(80, 24);
    input.write('?');
    await new Promise((r) => setImmediate(r));
    expect(dashboard.overlay).toBe('help');
    const all = lines().join('\n');
    expect(all).toContain('pick a scenario');
    expect(all).toContain('kalab server, loadgen, monitor, scenario, netstat, doctor');
    input.write('\x1b');
    await new Promise((r) => setTimeout(r, 50));
    expect(dashboard.overlay).toBe('none');
  });

  it('s opens the picker, down + Enter runs the second scenario, q quits', async () => {
    const ran: string[] = [];
    let quit = 0;
    const { dashboard, lines, input } = render(80, 24, syntheticSnapshot({ at: Date.now() }), {
      onScenario: (name) => ran.push(name),
      onQuit: () => quit++,
    });
    input.write('s');
    await new Promise((r) => setImmediate(r));
    expect(dashboard.overlay).toBe('picker');
    expect(lines().join('\n')).toContain('seq-unread-body');
    expect(lines().join('\n')).toContain('Expected: 10 TCP connections.');
    input.write('j');
    await new Promise((r) => setImmediate(r));
    expect(lines().join('\n')).toContain('Expected: 1 TCP connection.');
    input.write('q');
    await new Promise((r) => setImmediate(r));
    expect(dashboard.overlay).toBe('none');
    expect(quit).toBe(0);
    input.write('s');
    await new Promise((r) => setImmediate(r));
    input.write('j');
    await new Promise((r) => setImmediate(r));
    input.write('\r');
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual(['seq-read-body']);
    expect(dashboard.overlay).toBe('none');
    input.write('q');
    await new Promise((r) => setImmediate(r));
    expect(quit).toBe(1);
  });

  it('tab moves the focus and arrows scroll the focused table', async () => {
    const { dashboard, lines, input } = render(80, 24);
    for (let i = 0; i < 6; i++) dashboard.act('focus');
    input.write('\x1b[B');
    input.write('\x1b[B');
    await new Promise((r) => setTimeout(r, 20));
    dashboard.draw();
    expect(lines().join('\n')).toMatch(/STATE +LOCAL +REMOTE/);
    expect(lines().join('\n')).toMatch(/ESTABLISHED +\S*:40037/);
    expect(lines().join('\n')).not.toMatch(/ESTABLISHED +\S*:40039/);
  });
});
