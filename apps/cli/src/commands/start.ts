import { BadOptionError, NoTerminalError, parsePort } from '@kalab/core';
import type { Command } from 'commander';
import { action } from '../cli-error.js';
import { runDashboard } from '../dashboard/app.js';
import { DASHBOARD_DEFAULTS } from '../dashboard/defaults.js';
import { initialStatus } from '../dashboard/model.js';
import { startEmbeddedLab } from '../dashboard/providers/embedded-lab.js';
import { connectViewer } from '../dashboard/providers/monitor-viewer.js';
import { RunController } from '../dashboard/providers/run-controller.js';
import { embeddedLoad, scenarioApi } from '../dashboard/providers/scenario-api.js';
import { DashboardStore } from '../dashboard/store.js';

const HEADLESS = 'kalab server, kalab loadgen, kalab monitor, kalab scenario, kalab netstat, kalab doctor';

/** The dashboard draws on a terminal; without one, say which commands work headless (exit 2). */
function requireTerminal(command: string): void {
  if (process.stdin.isTTY && process.stdout.isTTY) return;
  throw new NoTerminalError(
    `${command} needs a terminal (stdin and stdout are not a TTY); without one use the headless commands: ${HEADLESS}`,
  );
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('open the terminal dashboard with an embedded monitor and server (also `pnpm start`)')
    .option(
      '--monitor-port <port>',
      'first port tried for the embedded monitor',
      String(DASHBOARD_DEFAULTS.monitorPort),
    )
    .action(
      action(async (opts: { monitorPort: string }) => {
        const monitorPort = parsePort('--monitor-port', opts.monitorPort, false);
        requireTerminal('kalab start');
        const lab = await startEmbeddedLab({ monitorPort });
        process.stdout.write(
          `kalab: monitor ${lab.monitor.url} (snapshot ${lab.monitor.httpUrl}/api/snapshot) · server ${lab.serverUrl}\n`,
        );
        const store = new DashboardStore(initialStatus('embedded', lab.monitor.url, lab.serverUrl));
        const viewer = connectViewer(store, { url: lab.monitor.url });
        const runs = new RunController({
          store,
          monitorUrl: lab.monitor.url,
          scenarios: scenarioApi(),
          load: embeddedLoad(lab.serverUrl),
        });
        try {
          await runDashboard({ store, runs });
        } finally {
          await runs.close();
          await viewer.close();
          await lab.close();
        }
        return 0;
      }),
    );
}

/** `http://h:p`, `ws://h:p`, `h:p` → `ws://h:p/ws`; a path other than `/` is kept. */
export function monitorWsUrl(input: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new BadOptionError('URL', `URL must be a monitor address like ws://127.0.0.1:7070/ws, got "${input}"`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new BadOptionError('URL', `URL must use ws://, wss://, http:// or https://, got "${input}"`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws';
  return url.toString();
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('attach the terminal dashboard to a running monitor (view only)')
    .argument('[url]', 'the monitor (ws://HOST:PORT/ws, http://HOST:PORT or HOST:PORT)', 'ws://127.0.0.1:7070/ws')
    .option('--token <token>', "the monitor's token, when it has one")
    .action(
      action(async (input: string, opts: { token?: string }) => {
        const url = monitorWsUrl(input);
        requireTerminal('kalab dashboard');
        const store = new DashboardStore(initialStatus('remote', url));
        const viewer = connectViewer(store, { url, token: opts.token });
        try {
          await runDashboard({ store });
        } finally {
          await viewer.close();
        }
        return 0;
      }),
    );
}
