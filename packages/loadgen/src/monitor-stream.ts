import { MonitorLink, PROTOCOL_VERSION } from '@kalab/protocol';
import { type LoadRun, runStartedMessage } from './run-load.js';

export interface MonitorStreamOptions {
  url: string;
  token?: string;
  name?: string;
  /** How long to wait for the final report to reach the monitor. */
  flushMs?: number;
  /**
   * Called with each failure of the link (a refused connect, a refused hello: `fatal`, it
   * will not be retried). The run goes on regardless; the caller decides what to say.
   */
  onError?: (err: Error, fatal: boolean) => void;
}

/**
 * Streams a run to a monitor: run-started, every tick, this host's TCP samples, and the
 * final run-report. Resolves once the report has been handed to the socket (bounded), with
 * whether the link was up to take it (false: the monitor never saw the report).
 * The link reconnects on its own; messages are queued (bounded) while it is down.
 */
export function streamToMonitor(run: LoadRun, o: MonitorStreamOptions): Promise<boolean> {
  const link = new MonitorLink({ url: o.url, token: o.token, role: 'agent', name: o.name ?? `loadgen-${process.pid}` });
  link.on('error', (err) => o.onError?.(err, false));
  link.on('fatal', (err) => o.onError?.(err, true));
  link.start();
  run.on('start', (s) => {
    link.send(runStartedMessage(s, run.options.scenario));
  });
  run.on('tick', (t) => link.send(t));
  run.on('tcp-sample', (s) => link.send(s));
  let refused = false;
  link.once('fatal', () => {
    refused = true;
  });
  return new Promise((resolve) => {
    const finish = async () => {
      if (!link.connected && !refused) await link.waitConnected(o.flushMs ?? 2000).catch(() => {});
      const delivered = link.connected;
      await link.close(o.flushMs ?? 2000);
      resolve(delivered);
    };
    run.once('done', (report) => {
      link.send({ v: PROTOCOL_VERSION, type: 'run-report', runId: run.runId, report });
      void finish();
    });
    run.once('error', () => void finish());
  });
}
