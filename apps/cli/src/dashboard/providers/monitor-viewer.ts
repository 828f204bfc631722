import { envelope, MonitorLink } from '@kalab/protocol';
import { DASHBOARD_DEFAULTS } from '../defaults.js';
import type { DashboardStore } from '../store.js';

export interface ViewerOptions {
  /** ws://host:port/ws of the monitor. */
  url: string;
  token?: string;
  /** How often the hub sends a snapshot; 250 ms is the dashboard's 4 renders a second. */
  intervalMs?: number;
}

/**
 * The dashboard's data provider: a viewer link to a monitor (embedded or remote) that
 * writes each snapshot into the store. Reconnects by itself; the header shows the link.
 */
export function connectViewer(store: DashboardStore, options: ViewerOptions): { close(): Promise<void> } {
  const link = new MonitorLink({ url: options.url, token: options.token, role: 'viewer', name: 'dashboard' });
  link.on('connected', () => {
    link.send(envelope({ type: 'subscribe', intervalMs: options.intervalMs ?? DASHBOARD_DEFAULTS.snapshotIntervalMs }));
    store.patchStatus({ link: 'connected', message: null });
  });
  link.on('disconnected', () => store.patchStatus({ link: 'disconnected' }));
  link.on('message', (msg) => {
    if (msg.type === 'snapshot') store.setSnapshot(msg);
    else if (msg.type === 'error') store.patchStatus({ message: `monitor: ${msg.message}` });
  });
  // The link retries with backoff; until it connects, the header says why it cannot.
  link.on('error', (err: Error & { code?: string }) => {
    if (link.connected) return;
    const message = `cannot reach the monitor at ${options.url} (${err.code ?? err.message}); retrying`;
    if (store.status.message !== message || store.status.link !== 'disconnected')
      store.patchStatus({ link: 'disconnected', message });
  });
  link.on('fatal', (err) => store.patchStatus({ link: 'disconnected', message: err.message }));
  link.start();
  return { close: () => link.close() };
}
