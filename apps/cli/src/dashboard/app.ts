import type { RunController } from './providers/run-controller.js';
import { createDashboard } from './screen.js';
import type { DashboardStore } from './store.js';

export interface RunDashboardOptions {
  store: DashboardStore;
  /** Absent for a view-only dashboard (`kalab dashboard URL`). */
  runs?: RunController;
}

/**
 * Opens the dashboard on the process's terminal and resolves when the user quits (q,
 * Ctrl-C, SIGTERM): a run in progress is stopped first, and the terminal restored.
 */
export function runDashboard(options: RunDashboardOptions): Promise<void> {
  const { store, runs } = options;
  return new Promise((resolve) => {
    let quitting = false;
    const quit = () => {
      if (quitting) return;
      quitting = true;
      store.patchStatus({ message: 'quitting…' });
      process.off('SIGTERM', quit);
      process.off('SIGINT', quit);
      void (runs?.stop() ?? Promise.resolve()).finally(() => {
        dashboard.destroy();
        resolve();
      });
    };
    const dashboard = createDashboard({
      store,
      scenarios: () => runs?.scenarios() ?? [],
      onScenario: (name) => void runs?.startScenario(name),
      onRunToggle: () => void runs?.toggle(),
      onFanOut: () => void runs?.toggleFanOut(),
      viewOnly: runs
        ? undefined
        : 'view only: scenarios and loads run from `kalab start` (or `kalab scenario NAME`, `kalab loadgen URL --monitor`)',
      onQuit: quit,
    });
    process.on('SIGTERM', quit);
    process.on('SIGINT', quit);
  });
}
