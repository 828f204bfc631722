import { hostname } from 'node:os';
import { MonitorLink, PROTOCOL_VERSION } from '@kalab/protocol';
import type { ObserveTick } from './observe-command.js';

export interface ObserveStreamOptions {
  url: string;
  token?: string;
  /** The source's name in the monitor (default `observe-PID`). */
  name?: string;
  /** What is observed: the command line, or `pid N (command)`. */
  target: string;
  /** Called with each failure of the link; the observation goes on regardless. */
  onError?: (err: Error, fatal: boolean) => void;
}

export interface ObserveStream {
  /** One tick a second, in the same shape a loadgen source sends, and the namespace's TCP states. */
  tick(t: ObserveTick): void;
  /** Flushes (bounded) and closes; resolves with whether the monitor was connected at the end. */
  close(): Promise<boolean>;
}

/**
 * Streams an observation to a monitor as role `observer`: a run-started, then every second a
 * tick (SYNs as connectionsOpened, open connections, requests when the lab server counts
 * them) and a tcp-sample of the observed namespace, which the monitor shows as a host of its
 * own (`HOST/observe-PID`), so the dashboard draws it like any run.
 */
export function streamObservation(o: ObserveStreamOptions): ObserveStream {
  const host = `${hostname()}/observe-${process.pid}`;
  const link = new MonitorLink({
    url: o.url,
    token: o.token,
    role: 'observer',
    name: o.name ?? `observe-${process.pid}`,
    host,
  });
  link.on('error', (err) => o.onError?.(err, false));
  link.on('fatal', (err) => o.onError?.(err, true));
  let refused = false;
  link.once('fatal', () => {
    refused = true;
  });
  link.start();
  const runId = `observe-${process.pid}-${Date.now().toString(36)}`;
  link.send({ v: PROTOCOL_VERSION, type: 'run-started', runId, target: o.target, engine: 'observe', config: {} });
  let seq = 0;
  let prev = { atMs: 0, opened: 0, requests: 0 };
  return {
    tick(t) {
      const dt = Math.max(1, t.atMs - prev.atMs) / 1000;
      const at = Date.now();
      link.send({
        v: PROTOCOL_VERSION,
        type: 'tick',
        runId,
        seq: seq++,
        at,
        elapsedMs: t.atMs,
        totals: { requests: t.requests, connectionsOpened: t.opened },
        rates: {
          rps: Math.max(0, (t.requests - prev.requests) / dt),
          newConnPerSec: Math.max(0, (t.opened - prev.opened) / dt),
        },
        openConnections: t.entry.open,
        errors: {},
      });
      link.send({ v: PROTOCOL_VERSION, type: 'tcp-sample', host, at, states: t.states });
      prev = { atMs: t.atMs, opened: t.opened, requests: t.requests };
    },
    async close() {
      // A program quicker than the ws handshake: give the queued messages a bounded chance to go out.
      if (!link.connected && !refused) await link.waitConnected(2000).catch(() => {});
      const delivered = link.connected;
      await link.close(2000);
      return delivered;
    },
  };
}
