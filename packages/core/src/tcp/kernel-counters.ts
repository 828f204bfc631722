import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { ParseError, UnsupportedError } from '../errors.js';
import { netDir, type ProcTarget, readProcFile } from './proc-files.js';

/** Counter tables as the kernel prints them: section → counter name → value. */
export type CounterSections = Record<string, Record<string, number>>;

/** /proc/net/snmp Tcp counters (RFC 4022 names). */
export interface TcpSnmpCounters {
  /** SYNs sent by connect(): one per connection this host opened. */
  ActiveOpens: number;
  /** Connections accepted from a listener. */
  PassiveOpens: number;
  AttemptFails: number;
  EstabResets: number;
  CurrEstab: number;
  RetransSegs: number;
  [name: string]: number;
}

export interface SnmpCounters {
  Tcp: TcpSnmpCounters;
  [section: string]: Record<string, number>;
}

/** /proc/net/netstat TcpExt counters; the TIME_WAIT ones are named, the rest are there too. */
export interface TcpExtCounters {
  /** Sockets that finished TIME_WAIT through the normal (slow) timer. */
  TW: number;
  /** TIME_WAIT sockets reused for a new connection (tcp_tw_reuse). */
  TWRecycled: number;
  /** TIME_WAIT sockets killed early (bucket table full, or a RST in TIME_WAIT). */
  TWKilled: number;
  ListenOverflows: number;
  ListenDrops: number;
  TCPTimeWaitOverflow: number;
  [name: string]: number;
}

export interface NetstatCounters {
  TcpExt: TcpExtCounters;
  [section: string]: Record<string, number>;
}

/** /proc/net/sockstat (+ sockstat6): `TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 136` → { TCP: { inuse: 1, ... } }. */
export interface SockstatCounters {
  sockets: { used: number };
  TCP: { inuse: number; orphan: number; tw: number; alloc: number; mem: number; [k: string]: number };
  [section: string]: Record<string, number>;
}

/**
 * Parses the paired header/value lines of /proc/net/snmp and /proc/net/netstat:
 * `Tcp: RtoAlgorithm RtoMin ...` followed by `Tcp: 1 200 ...`.
 */
export function parseCounterPairs(text: string): CounterSections {
  const out: CounterSections = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i]!;
    const vals = lines[i + 1]!;
    if (head.trim() === '') {
      i--;
      continue;
    }
    const hc = head.indexOf(':');
    const section = head.slice(0, hc);
    if (hc <= 0 || !vals.startsWith(`${section}:`))
      throw new ParseError(`unexpected counter lines: "${head.slice(0, 60)}"`);
    const names = head
      .slice(hc + 1)
      .trim()
      .split(/\s+/);
    const values = vals
      .slice(hc + 1)
      .trim()
      .split(/\s+/);
    if (names.length !== values.length)
      throw new ParseError(`counter section ${section}: ${names.length} names but ${values.length} values`);
    const rec: Record<string, number> = {};
    names.forEach((n, j) => {
      rec[n] = Number(values[j]);
    });
    out[section] = rec;
  }
  return out;
}

/** Parses /proc/net/sockstat lines: `NAME: key value key value ...`. */
export function parseSockstat(text: string): CounterSections {
  const out: CounterSections = {};
  for (const line of text.split('\n')) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const t = line
      .slice(c + 1)
      .trim()
      .split(/\s+/);
    const rec: Record<string, number> = {};
    for (let i = 0; i + 1 < t.length; i += 2) rec[t[i]!] = Number(t[i + 1]);
    out[line.slice(0, c)] = rec;
  }
  return out;
}

/** The Tcp: counters of /proc/net/snmp the lab reads (a missing one reads as 0). */
export const TCP_SNMP_NAMES = [
  'ActiveOpens',
  'PassiveOpens',
  'AttemptFails',
  'EstabResets',
  'CurrEstab',
  'RetransSegs',
] as const;
const TCPEXT_NAMES = ['TW', 'TWRecycled', 'TWKilled', 'ListenOverflows', 'ListenDrops', 'TCPTimeWaitOverflow'] as const;

async function text(path: string, target: ProcTarget, optional = false): Promise<string | undefined> {
  return (await readProcFile(path, target, optional))?.toString('latin1');
}

/** /proc/net/snmp (or /proc/<pid>/net/snmp): Ip, Icmp, Tcp, Udp... counters. */
export async function readSnmp(target: ProcTarget = {}): Promise<SnmpCounters> {
  const sections = parseCounterPairs((await text(`${netDir(target)}/snmp`, target))!);
  const tcp = (sections.Tcp ?? {}) as TcpSnmpCounters;
  for (const n of TCP_SNMP_NAMES) tcp[n] ??= 0;
  return { ...sections, Tcp: tcp };
}

/** /proc/net/netstat: TcpExt (TW, TWRecycled, TWKilled, ListenOverflows, ...), IpExt, MPTcpExt. */
export async function readNetstatCounters(target: ProcTarget = {}): Promise<NetstatCounters> {
  const sections = parseCounterPairs((await text(`${netDir(target)}/netstat`, target))!);
  const ext = (sections.TcpExt ?? {}) as TcpExtCounters;
  for (const n of TCPEXT_NAMES) ext[n] ??= 0;
  return { ...sections, TcpExt: ext };
}

/** /proc/net/sockstat and sockstat6: sockets in use, TCP inuse/orphan/tw/alloc/mem, ... */
export async function readSockstat(target: ProcTarget = {}): Promise<SockstatCounters> {
  const dir = netDir(target);
  const v4 = parseSockstat((await text(`${dir}/sockstat`, target))!);
  const v6 = parseSockstat((await text(`${dir}/sockstat6`, target, true)) ?? '');
  const tcp = { inuse: 0, orphan: 0, tw: 0, alloc: 0, mem: 0, ...v4.TCP };
  return { ...v4, ...v6, sockets: { used: v4.sockets?.used ?? 0 }, TCP: tcp };
}

/** `32768\t60999` → [32768, 60999]. */
export function parsePortRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65_535 || lo > hi) throw new ParseError(`unexpected ip_local_port_range: "${text.trim()}"`);
  return [lo, hi];
}

const RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';

function sameNetns(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
  } catch {
    return false;
  }
}

/**
 * The ephemeral port range connect() picks from (`ip_local_port_range`). sysctls show the
 * namespace of the reader, not of a path, so for a `pid` in another network namespace this
 * enters it with `nsenter --net` (root, or the owner of that namespace).
 */
export async function readEphemeralRange(target: ProcTarget = {}): Promise<[number, number]> {
  const { pid, procRoot } = target;
  if (procRoot !== undefined && procRoot !== '/proc') {
    const path =
      pid === undefined
        ? `${procRoot}/sys/net/ipv4/ip_local_port_range`
        : `${procRoot}/${pid}/sys/net/ipv4/ip_local_port_range`;
    return parsePortRange((await text(path, target))!);
  }
  if (pid === undefined || sameNetns(pid)) {
    netDir(target); // validates pid
    if (pid !== undefined) await text(`${netDir(target)}/tcp`, target); // the process exists
    return parsePortRange((await text(RANGE_FILE, {}))!);
  }
  await text(`${netDir(target)}/tcp`, target); // BadOptionError('pid') when there is no such process
  return new Promise((resolve, reject) => {
    execFile('nsenter', [`--net=/proc/${pid}/ns/net`, 'cat', RANGE_FILE], { timeout: 5000 }, (err, stdout) => {
      if (err)
        reject(
          new UnsupportedError(
            `cannot read ip_local_port_range of pid ${pid}'s namespace (nsenter: ${err.message.split('\n')[0]})`,
          ),
        );
      else {
        try {
          resolve(parsePortRange(stdout));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}
