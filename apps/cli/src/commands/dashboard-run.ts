import { runDashboard } from '../dashboard/app.js';
import { initialStatus } from '../dashboard/model.js';
import { connectViewer } from '../dashboard/providers/monitor-viewer.js';
import { requireTerminal } from '../dashboard/require-terminal.js';
import { DashboardStore } from '../dashboard/store.js';
import { monitorWsUrl } from './dashboard.js';

/** `kalab dashboard [URL]`: the dashboard, view only, on a running monitor. */
export async function run(input: string, opts: { token?: string }): Promise<number> {
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
}
