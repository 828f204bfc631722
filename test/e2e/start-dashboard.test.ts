import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// `pnpm start` in a real terminal (tmux at 160x48), driven with keys like a user would.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const session = `kalab-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'kalab-start-'));
const exitFile = join(dir, 'exit');

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the pane until `test` accepts it; fails with the last screen after `timeoutMs`. */
async function waitForScreen(what: string, test: (text: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = screen();
    if (test(text)) return text;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen was:\n${text}`);
}

afterAll(() => {
  try {
    tmux('kill-session', '-t', session);
  } catch {
    // already gone: the dashboard quit and the shell ended
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTmux)('pnpm start in tmux at 160x48', () => {
  it('shows the panels, runs the first article scenario from the picker, counts its connections, and quits with exit 0', async () => {
    // The shell waits a little after the exit so the pane can still be read if it failed.
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '48', `cd '${ROOT}' && pnpm start; echo EXIT=$? > '${exitFile}'; sleep 5`);

    // `pnpm start` builds first (turbo, cached in CI after `pnpm test`'s build).
    const first = await waitForScreen(
      'the dashboard panels',
      (t) => ['Connections', 'TIME_WAIT', 'Latency', 'Errors', 'Throughput', 'Findings'].every((title) => t.includes(title)),
      120_000,
    );
    expect(first).toMatch(/target http:\/\/127\.0\.0\.1:\d+\//);
    expect(first).toContain('q quit');

    tmux('send-keys', '-t', session, 's');
    const picker = await waitForScreen('the scenario picker', (t) => t.includes('Scenarios') && t.includes('seq-unread-body'), 10_000);
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

    tmux('send-keys', '-t', session, 'q');
    const deadline = Date.now() + 15_000;
    while (!existsSync(exitFile) && Date.now() < deadline) await sleep(100);
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('EXIT=0');
  });
});
