import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { computeLayout, type Rect } from '../../apps/cli/src/dashboard/layout.js';
import { hasCommand, missing } from '../support/needs.js';

// `pnpm start` in a real terminal (tmux at 160x48), driven with keys like a user would.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const session = `kalab-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const viewerSession = `${session}-viewer`;
const dir = mkdtempSync(join(tmpdir(), 'kalab-start-'));
const exitFile = join(dir, 'exit');

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const capture = (target: string) => tmux('capture-pane', '-p', '-t', target);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the pane until `test` accepts it; fails with the last screen after `timeoutMs`. */
async function waitForScreen(
  what: string,
  test: (text: string) => boolean,
  timeoutMs: number,
  target = session,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = capture(target);
    if (test(text)) return text;
    // `pnpm start` ended early (a failed build, a crash): no point waiting for the panels.
    if (target === session && existsSync(exitFile)) break;
    await sleep(250);
  }
  const exited =
    target === session && existsSync(exitFile) ? ` (pnpm start ended: ${readFileSync(exitFile, 'utf8').trim()})` : '';
  throw new Error(`gave up waiting for ${what}${exited}; the screen was:\n${text}`);
}

/** Every bordered panel's four corners sit where the layout puts them: nothing cut, nothing overlapping. */
function panelsIntact(text: string, cols: number, rows: number): boolean {
  const layout = computeLayout(cols, rows);
  if (layout.tooSmall) return false;
  const lines = text.split('\n');
  const at = (y: number, x: number) => [...(lines[y] ?? '')][x];
  return (Object.entries(layout.panels) as [string, Rect][])
    .filter(([id]) => id !== 'header' && id !== 'footer')
    .every(([, r]) => {
      const bottom = r.top + r.height - 1;
      const right = r.left + r.width - 1;
      return (
        at(r.top, r.left) === '┌' && at(r.top, right) === '┐' && at(bottom, r.left) === '└' && at(bottom, right) === '┘'
      );
    });
}

afterAll(() => {
  for (const s of [session, viewerSession]) {
    try {
      tmux('kill-session', '-t', s);
    } catch {
      // already gone: the dashboard quit and the shell ended
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing('tmux', hasCommand('tmux')))('pnpm start in tmux at 160x48', () => {
  it('shows the panels, runs the first article scenario from the picker, counts its connections, and quits with exit 0', async () => {
    // The shell waits a little after the exit so the pane can still be read if it failed.
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '160',
      '-y',
      '48',
      `cd '${ROOT}' && pnpm start; echo EXIT=$? > '${exitFile}'; sleep 5`,
    );

    // `pnpm start` builds first (turbo, cached in CI after `pnpm test`'s build).
    const first = await waitForScreen(
      'the dashboard panels',
      (t) =>
        ['Connections', 'TIME_WAIT', 'Latency', 'Errors', 'Throughput', 'Findings'].every((title) => t.includes(title)),
      120_000,
    );
    expect(first).toMatch(/target http:\/\/127\.0\.0\.1:\d+\//);
    expect(first).toContain('q quit');
    expect(panelsIntact(first, 160, 48)).toBe(true);
    const monitorUrl = /monitor (ws:\/\/127\.0\.0\.1:\d+\/ws)/.exec(first)?.[1];
    expect(monitorUrl).toBeDefined();

    // Resizing relayouts the whole screen: at 80x24 and 200x60 every panel is whole.
    for (const [cols, rows] of [
      [80, 24],
      [200, 60],
      [160, 48],
    ] as const) {
      tmux('resize-window', '-t', session, '-x', String(cols), '-y', String(rows));
      await waitForScreen(
        `the panels at ${cols}x${rows}`,
        (t) => panelsIntact(t, cols, rows) && t.includes('TIME_WAIT') && t.includes('Connections'),
        10_000,
      );
    }

    tmux('send-keys', '-t', session, 's');
    const picker = await waitForScreen(
      'the scenario picker',
      (t) => t.includes('Scenarios') && t.includes('seq-unread-body'),
      10_000,
    );
    // The first entry is the article's first experiment.
    const entries = picker.split('\n').filter((l) => /│\s*[a-z0-9]+(-[a-z0-9]+)+\s+(article|lab)\s/.test(l));
    expect(entries[0]).toMatch(/seq-unread-body\s+article/);

    tmux('send-keys', '-t', session, 'Enter');
    const done = await waitForScreen(
      'the scenario to finish',
      (t) => /seq-unread-body (done|failed|stopped):/.test(t),
      90_000,
    );
    // The article: 10 sequential requests whose bodies are never read open 10 connections.
    expect(done).toMatch(/seq-unread-body done: 10 connections opened/);

    // The connections the scenario opened reach the monitor: its table's title counts them.
    expect(
      await waitForScreen(
        'the monitor to count them',
        (t) => /Connections · (\d+) opened/.exec(t)?.[1] === '10',
        10_000,
      ),
    ).toBeTruthy();

    // `kalab dashboard URL` attaches a second, view-only screen to the same monitor.
    const viewerExit = join(dir, 'viewer-exit');
    tmux(
      'new-session',
      '-d',
      '-s',
      viewerSession,
      '-x',
      '80',
      '-y',
      '24',
      `cd '${ROOT}' && node apps/cli/bin/kalab.js dashboard ${monitorUrl}; echo EXIT=$? > '${viewerExit}'; sleep 5`,
    );
    const viewer = await waitForScreen(
      'the viewer dashboard',
      (t) => panelsIntact(t, 80, 24) && /sources [1-9]\d*\/\d+/.test(t),
      30_000,
      viewerSession,
    );
    expect(viewer).toMatch(/Connections · 10 opened/);
    tmux('send-keys', '-t', viewerSession, 's');
    await waitForScreen('the view-only notice', (t) => t.includes('view only'), 10_000, viewerSession);
    tmux('send-keys', '-t', viewerSession, 'q');

    tmux('send-keys', '-t', session, 'q');
    const deadline = Date.now() + 15_000;
    while (!existsSync(exitFile) && Date.now() < deadline) await sleep(100);
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('EXIT=0');
    // The terminal is restored: out of the alternate screen, cursor visible, the line printed
    // before the dashboard opened is back on screen.
    expect(tmux('display-message', '-p', '-t', session, '#{alternate_on} #{cursor_flag}').trim()).toBe('0 1');
    const after = capture(session);
    expect(after).toMatch(/kalab: monitor ws:\/\/127\.0\.0\.1:\d+\/ws/);
    expect(after).not.toContain('Throughput');
    while (!existsSync(viewerExit) && Date.now() < deadline) await sleep(100);
    expect(readFileSync(viewerExit, 'utf8').trim()).toBe('EXIT=0');
  });
});
