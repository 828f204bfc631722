import { hostname } from 'node:os';
import { BadOptionError } from '../errors.js';
import { readEphemeralRange, readSnmp, TCP_SNMP_NAMES } from './kernel-counters.js';
import { hasProcNet, netDir, type ProcTarget, readProcFile } from './proc-files.js';
import { countProcNetTcp, formatEndpoint, type PortSide, parseProcNetTcp, scanProcNetTcp } from './proc-net-tcp.js';
import { emptyStateCounts } from './tcp-states.js';
import { countStates, readTcpTable } from './tcp-table.js';

export interface SampleTcpOptions extends ProcTarget {
  /** Host name stamped into the sample (default os.hostname()). */
  host?: string;
  /** Count and list only sockets with this port (local or remote, see `side`). */
  port?: number;
  side?: PortSide;
  /** Rows listed in `sockets` (default 100, at most 500 — the protocol's cap; 0 lists none). */
  maxSockets?: number;
}

/**
 * A sample of one host's TCP table, as the lab's processes send it to the hub
 * (`@kalab/protocol`'s TcpSampleSchema checks this shape and fails to build if they part).
 */
// A type, not an interface: like the schema's inferred type it is assignable to a record.
export type TcpSample = {
  v: 1;
  type: 'tcp-sample';
  host: string;
  at: number;
  /** Counts by state over the sockets the sender cares about (its port, or all). */
  states: Record<string, number>;
  ephemeral?: { range: [number, number]; inUse: number; timeWait: number };
  /** /proc/net/snmp Tcp counters (ActiveOpens, PassiveOpens, AttemptFails, EstabResets, CurrEstab, RetransSegs). */
  counters?: Record<string, number>;
  /** A bounded sample of rows, for the connections table. */
  sockets?: { local: string; remote: string; state: string }[];
};

const V: TcpSample['v'] = 1;

/** Rows a sample lists at most (the protocol's cap). */
export const TCP_SAMPLE_MAX_SOCKETS = 500;
const SOCKETS_CAP = TCP_SAMPLE_MAX_SOCKETS;

// The range changes rarely and reading another namespace's one spawns nsenter: keep it a few seconds.
const rangeCache = new Map<string, { range: [number, number] | undefined; at: number }>();
const RANGE_TTL_MS = 5000;

async function cachedRange(target: ProcTarget): Promise<[number, number] | undefined> {
  const key = `${target.procRoot ?? '/proc'}|${target.pid ?? ''}`;
  const hit = rangeCache.get(key);
  const now = Date.now();
  if (hit && now - hit.at < RANGE_TTL_MS) return hit.range;
  const range = await readEphemeralRange(target).catch(() => undefined);
  rangeCache.set(key, { range, at: now });
  return range;
}

/**
 * One `tcp-sample` message (protocol.ts) of this host's TCP table, or of the namespace of
 * `pid`: counts by state (over `port` when given), ephemeral-port usage against
 * ip_local_port_range (over every socket), the /proc/net/snmp Tcp counters, and up to
 * `maxSockets` rows. Reads each table once and decodes addresses only for listed rows.
 */
export async function sampleTcp(opts: SampleTcpOptions = {}): Promise<TcpSample> {
  const maxSockets = opts.maxSockets ?? 100;
  if (!Number.isInteger(maxSockets) || maxSockets < 0 || maxSockets > SOCKETS_CAP) {
    throw new BadOptionError('maxSockets', `maxSockets must be an integer from 0 to ${SOCKETS_CAP}, got ${maxSockets}`);
  }
  const host = opts.host ?? hostname();
  const at = Date.now();
  const filter = { port: opts.port, side: opts.side };

  if (opts.procRoot === undefined && !hasProcNet({}) && opts.pid === undefined) {
    // No procfs (macOS, BSD): netstat -an gives states and rows, no counters.
    const rows = await readTcpTable(filter);
    const sample: TcpSample = { v: V, type: 'tcp-sample', host, at, states: countStates(rows) };
    if (maxSockets > 0) sample.sockets = rows.slice(0, maxSockets).map(toRow);
    return sample;
  }

  const dir = netDir(opts);
  const [v4, v6, range, snmp] = await Promise.all([
    readProcFile(`${dir}/tcp`, opts),
    readProcFile(`${dir}/tcp6`, opts, true),
    cachedRange(opts),
    readSnmp(opts).catch(() => undefined),
  ]);
  const tables: [Buffer, 4 | 6][] = [];
  if (v4) tables.push([v4, 4]);
  if (v6) tables.push([v6, 6]);

  const states = emptyStateCounts();
  for (const [buf, fam] of tables) countProcNetTcp(buf, fam, states, filter);
  const sample: TcpSample = { v: V, type: 'tcp-sample', host, at, states };

  if (range) {
    const [lo, hi] = range;
    const held = new Uint8Array(65_536);
    let inUse = 0;
    let timeWait = 0;
    for (const [buf, fam] of tables) {
      scanProcNetTcp(buf, fam, (_p, lport, _rport, code) => {
        if (lport < lo || lport > hi) return;
        if (code === 6) timeWait++;
        if (held[lport] === 0) {
          held[lport] = 1;
          inUse++;
        }
      });
    }
    sample.ephemeral = { range: [lo, hi], inUse, timeWait };
  }
  if (snmp) {
    const counters: Record<string, number> = {};
    for (const n of TCP_SNMP_NAMES) counters[n] = Math.max(0, snmp.Tcp[n] ?? 0);
    sample.counters = counters;
  }
  if (maxSockets > 0) {
    const rows: TcpSample['sockets'] = [];
    for (const [buf, fam] of tables) {
      if (rows.length >= maxSockets) break;
      for (const s of parseProcNetTcp(buf, fam, { ...filter, limit: maxSockets - rows.length })) rows.push(toRow(s));
    }
    sample.sockets = rows;
  }
  return sample;
}

function toRow(s: {
  local: { address: string; port: number };
  remote: { address: string; port: number };
  state: string;
}) {
  return { local: formatEndpoint(s.local), remote: formatEndpoint(s.remote), state: s.state };
}
