import { BadOptionError } from '@kalab/core/errors';
import type { Command } from 'commander';
import { lazyAction } from './lazy-action.js';

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
    .action(lazyAction(() => import('./dashboard-run.js')));
}
