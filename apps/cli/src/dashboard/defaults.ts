/** Every default of the dashboard and `kalab start`, in one place. */
export const DASHBOARD_DEFAULTS = {
  /** `kalab start`'s monitor: the first port tried on 127.0.0.1, and how many after it. */
  monitorPort: 7070,
  monitorPortAttempts: 100,
  /** The embedded lab server's port (a free one when it is taken). */
  serverPort: 8080,
  /** How often the viewer asks the monitor for a snapshot: one per render. */
  snapshotIntervalMs: 250,
  /** Upper bound on redraws; data arriving faster only replaces the snapshot drawn next. */
  maxRendersPerSecond: 4,
  /** `r` with no scenario picked: a bounded keep-alive load against the embedded server. */
  load: { connections: 8, durationMs: 30_000 },
  /** Below this the panels cannot show their numbers; the screen says so instead. */
  minCols: 60,
  minRows: 21,
} as const;
