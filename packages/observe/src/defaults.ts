/** Defaults of `kalab observe`, in one place. */
export const OBSERVE_DEFAULTS = {
  /** Time between two samples of the TCP table: TIME_WAIT lasts 60 s, a live connection rarely less than this. */
  intervalMs: 100,
  /** After SIGTERM, how long the program has before SIGKILL. */
  graceMs: 3000,
  /** Wait after the program exits before the last sample, so loopback closing handshakes finish. */
  settleMs: 200,
  /** Connection lives kept in the report; more are counted but not listed. */
  maxLives: 10_000,
  /** How long tcpdump may take to say it is listening. */
  captureStartMs: 10_000,
  /** The largest capture read back for the report (1 GiB); the file itself is kept whole. */
  captureReadBytes: 1024 * 1024 * 1024,
} as const;

/** Shortest sampling interval accepted (each sample reads the whole TCP table). */
export const MIN_INTERVAL_MS = 10;

/** The lowest ephemeral port a namespace takes: the kernel refuses a range below net.ipv4.ip_unprivileged_port_start (1024). */
export const MIN_EPHEMERAL_PORT = 1024;
