import { ErrorCodes, isKalabError, UnreachableError } from '@kalab/core';
import { createMonitor, type Monitor } from '@kalab/monitor';
import { createLabServer, type LabServer, MonitorReporter } from '@kalab/server';
import { DASHBOARD_DEFAULTS } from '../defaults.js';

export interface EmbeddedLabOptions {
  /** First monitor port to try; the next ones are tried while they are taken (default 7070). */
  monitorPort?: number;
  /** Ports tried after the first (default 100). */
  portAttempts?: number;
  /** The embedded server's port (default 8080, or a free one when 8080 is taken). */
  serverPort?: number;
}

export interface EmbeddedLab {
  monitor: Monitor;
  server: LabServer;
  serverUrl: string;
  close(): Promise<void>;
}

/** `kalab start`'s backstage: a monitor on 127.0.0.1 (first free port from 7070) and a lab server reporting to it. */
export async function startEmbeddedLab(options: EmbeddedLabOptions = {}): Promise<EmbeddedLab> {
  const first = options.monitorPort ?? DASHBOARD_DEFAULTS.monitorPort;
  const attempts = options.portAttempts ?? DASHBOARD_DEFAULTS.monitorPortAttempts;
  let monitor: Monitor | undefined;
  for (let port = first; port < first + attempts && !monitor; port++) {
    try {
      monitor = await createMonitor({ host: '127.0.0.1', port });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      if (!(isKalabError(err) && err.code === ErrorCodes.UNREACHABLE && cause?.code === 'EADDRINUSE')) throw err;
    }
  }
  if (!monitor)
    throw new UnreachableError(
      `no free port for the monitor on 127.0.0.1:${first}-${first + attempts - 1} (try --monitor-port)`,
    );
  let server: LabServer | undefined;
  let reporter: MonitorReporter | undefined;
  try {
    server = await listenServer(options.serverPort ?? DASHBOARD_DEFAULTS.serverPort);
    reporter = new MonitorReporter({
      ledger: server.ledger,
      url: monitor.url,
      port: server.address().port,
      name: 'embedded-server',
    }).start();
  } catch (err) {
    await server?.close({ graceMs: 100 });
    await monitor.close();
    throw err;
  }
  const m = monitor;
  const s = server;
  return {
    monitor: m,
    server: s,
    serverUrl: `${s.address().url}/`,
    async close() {
      await reporter?.close();
      await s.close({ graceMs: 200 });
      await m.close();
    },
  };
}

async function listenServer(port: number): Promise<LabServer> {
  const server = createLabServer({ host: '127.0.0.1', port });
  try {
    await server.listen();
    return server;
  } catch (err) {
    if (port === 0) throw err;
    // 8080 is taken (another lab, another app): any free port will do for the embedded target.
    const fallback = createLabServer({ host: '127.0.0.1', port: 0 });
    await fallback.listen();
    return fallback;
  }
}
