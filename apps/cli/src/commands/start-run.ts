import { parsePort } from '@kalab/core';
import { runDashboard } from '../dashboard/app.js';
import { initialStatus } from '../dashboard/model.js';
import { startEmbeddedLab } from '../dashboard/providers/embedded-lab.js';
import { connectViewer } from '../dashboard/providers/monitor-viewer.js';
import { RunController } from '../dashboard/providers/run-controller.js';
import { embeddedLoad, fanOutLoad, scenarioApi } from '../dashboard/providers/scenario-api.js';
import { requireTerminal } from '../dashboard/require-terminal.js';
import { DashboardStore } from '../dashboard/store.js';

/** `kalab start`: an embedded monitor and server, and the dashboard on them. */
export async function run(opts: { monitorPort: string }): Promise<number> {
  const monitorPort = parsePort('--monitor-port', opts.monitorPort, false);
  requireTerminal('kalab start');
  const lab = await startEmbeddedLab({ monitorPort });
  process.stdout.write(
    `kalab: monitor ${lab.monitor.url} (snapshot ${lab.monitor.httpUrl}/api/snapshot) · server ${lab.serverUrl}\n`,
  );
  process.stdout.write(`kalab: web dashboard ${lab.monitor.httpUrl}/\n`);
  const store = new DashboardStore(initialStatus('embedded', lab.monitor.url, lab.serverUrl));
  const viewer = connectViewer(store, { url: lab.monitor.url });
  const runs = new RunController({
    store,
    monitorUrl: lab.monitor.url,
    scenarios: scenarioApi(),
    load: embeddedLoad(lab.serverUrl),
    fanOut: fanOutLoad(lab.monitor.url, lab.serverUrl, { token: lab.monitor.token }),
  });
  try {
    await runDashboard({ store, runs });
  } finally {
    await runs.close();
    await viewer.close();
    await lab.close();
  }
  return 0;
}
