import { urlPort } from '@kalab/core';
import type { Dialer } from './dial.js';
import type { ResolvedOptions } from './options.js';
import type { RequestShape } from './request-shape.js';
import type { WorkerStats } from './worker-stats.js';

/** Called exactly once per request, asynchronously: an error, or the response status. */
export type Done = (err: Error | null, status: number) => void;

/**
 * An event-loop engine inside one worker. The driver decides when to send (closed or open
 * model); the engine owns connections and counts them into `stats` (opened, closed,
 * connect time, reused requests).
 */
export interface Engine {
  /** `slot` picks a connection in the closed model; -1 lets the engine choose (open model). */
  send(slot: number, done: Done): void;
  /** Tears every connection down (also ones holding unread responses). */
  close(): Promise<void>;
}

/** This worker's share of the run. */
export interface WorkerSlice {
  index: number;
  connections: number;
  requests: number | null;
  rate: number | null;
  /** This worker's share of --max-idle (each worker has its own Agent). */
  maxIdle: number;
}

export interface EngineContext {
  options: ResolvedOptions;
  slice: WorkerSlice;
  url: URL;
  stats: WorkerStats;
  /** Next source address, round-robin over --local-address (undefined: let the kernel choose). */
  nextLocalAddress: () => string | undefined;
  /** The request every engine sends (-m, -H, -b). */
  shape: RequestShape;
  /** Opens a TCP (http://) or TLS (https://) connection to the target, counting TLS handshakes. */
  dial: Dialer;
}

export function localAddressRing(addresses: readonly string[], start: number): () => string | undefined {
  if (addresses.length === 0) return () => undefined;
  let i = start % addresses.length;
  return () => {
    const a = addresses[i]!;
    i = (i + 1) % addresses.length;
    return a;
  };
}

/** Host, port and path of an http:// or https:// URL, ready for net.connect and request lines. */
export function targetParts(url: URL): { host: string; port: number; path: string; hostHeader: string } {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = urlPort(url);
  return { host, port, path: `${url.pathname}${url.search}`, hostHeader: url.host };
}
