import { BadOptionError, isLoopbackHost, parseInteger, urlPort } from '@kalab/core';

/** One `--allow-target` entry: a host, and a port or any port (null). */
export interface TargetSpec {
  host: string;
  port: number | null;
}

/**
 * An agent's caps as it enforces them and as the monitor checks a fan-out slice against them
 * (the agent announces them in its hello). `allowTargets: null` means loopback only.
 */
export interface ResolvedCaps {
  maxConnections: number;
  maxDurationMs: number;
  allowTargets: TargetSpec[] | null;
  /** `--max-body-bytes`: the largest request body the agent sends (undefined: not said, not checked). */
  maxBodyBytes?: number | undefined;
}

/** The bytes of a run's request body as the agent protocol carries it (utf8 text, or base64). */
export function bodyBytesOf(run: { body?: string | undefined; bodyEncoding?: 'utf8' | 'base64' | undefined }): number {
  return run.body === undefined ? 0 : Buffer.byteLength(run.body, run.bodyEncoding ?? 'utf8');
}

/** Why a request body breaks an agent's `--max-body-bytes`, or null when it fits (or the agent did not say). */
export function bodyCapViolation(bodyBytes: number, caps: Pick<ResolvedCaps, 'maxBodyBytes'>): string | null {
  if (caps.maxBodyBytes === undefined || bodyBytes <= caps.maxBodyBytes) return null;
  return `a ${bodyBytes}-byte request body is more than this agent's --max-body-bytes ${caps.maxBodyBytes}`;
}

/** `HOST`, `HOST:PORT` or `[V6]:PORT` → a target spec; the message names `--allow-target`. */
export function parseTargetSpec(spec: string): TargetSpec {
  const s = spec.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const m = v6 ?? /^([^:\s]+)(?::(\d+))?$/.exec(s);
  if (!m?.[1])
    throw new BadOptionError('--allow-target', `--allow-target takes HOST or HOST:PORT entries, got "${spec}"`);
  return {
    host: m[1].toLowerCase(),
    port: m[2] === undefined ? null : parseInteger('--allow-target', m[2], 1, 65_535),
  };
}

/** A target spec as `--allow-target` takes it (the hello carries them in this form). */
export function formatTargetSpec(t: TargetSpec): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return t.port === null ? host : `${host}:${t.port}`;
}

/**
 * Why a run breaks the caps, naming the cap's flag, or null when it fits. One check for the
 * agent (which enforces it) and the monitor (which refuses a fan-out before any agent starts).
 */
export function capViolation(
  run: { target: string; connections: number; durationMs?: number | undefined; bodyBytes?: number | undefined },
  caps: ResolvedCaps,
): string | null {
  let url: URL;
  try {
    url = new URL(run.target);
  } catch {
    return `target "${run.target}" is not a URL`;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = urlPort(url);
  if (caps.allowTargets === null) {
    if (!isLoopbackHost(host)) return `target ${host} is not loopback and this agent has no --allow-target`;
  } else if (!caps.allowTargets.some((t) => t.host === host && (t.port === null || t.port === port))) {
    return `target ${host}:${port} is not in this agent's --allow-target list`;
  }
  if (run.connections > caps.maxConnections)
    return `${run.connections} connections is more than this agent's --max-connections ${caps.maxConnections}`;
  if (run.durationMs !== undefined && run.durationMs > caps.maxDurationMs) {
    return `a ${run.durationMs} ms run is longer than this agent's --max-duration ${caps.maxDurationMs} ms`;
  }
  return bodyCapViolation(run.bodyBytes ?? 0, caps);
}
