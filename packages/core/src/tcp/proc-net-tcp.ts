import { endianness } from 'node:os';
import { ParseError } from '../errors.js';
import { STATE_BY_CODE, type StateCounts, type TcpState } from './tcp-states.js';

export interface TcpEndpoint {
  /** IPv4 dotted quad, or IPv6 in RFC 5952 form; IPv4-mapped IPv6 (::ffff:a.b.c.d) is shown as IPv4. */
  address: string;
  port: number;
}

export interface TcpSocket {
  local: TcpEndpoint;
  remote: TcpEndpoint;
  state: TcpState;
  /** Which table the row came from: 4 for /proc/net/tcp (tcp4), 6 for /proc/net/tcp6 (tcp6). */
  family: 4 | 6;
  /** The socket's inode (links it to a process's fd); only when asked for, 0 for TIME_WAIT rows. */
  inode?: number;
}

/** Which side's port a filter looks at. */
export type PortSide = 'local' | 'remote' | 'either';

export interface RowFilter {
  port?: number;
  side?: PortSide;
}

export interface ParseOptions extends RowFilter {
  /** Also decode the inode column (costs a scan of the rest of the line). */
  inode?: boolean;
  /** Stop after this many matching rows. */
  limit?: number;
}

// Hex digit values, -1 for anything else: one table lookup per byte, no regex, no substrings.
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

const LE = endianness() === 'LE';
const NL = 10;
const COLON = 58;
const SPACE = 32;

// Column offsets from the first byte after "sl: " (the kernel prints fixed-width hex).
// tcp:  "0100007F:1F90 0100007F:C738 06 ..."
// tcp6: "00000000000000000000000001000000:1F90 <32 hex>:C738 06 ..."
const LAYOUT = {
  4: { addr: 8, lport: 9, raddr: 14, rport: 23, state: 28, min: 30 },
  6: { addr: 32, lport: 33, raddr: 38, rport: 71, state: 76, min: 78 },
} as const;

function hex4(b: Uint8Array, p: number): number {
  const a = HEX[b[p]!]!;
  const c = HEX[b[p + 1]!]!;
  const d = HEX[b[p + 2]!]!;
  const e = HEX[b[p + 3]!]!;
  if ((a | c | d | e) < 0) return -1;
  return (a << 12) | (c << 8) | (d << 4) | e;
}

function hex8(b: Uint8Array, p: number): number {
  const hi = hex4(b, p);
  const lo = hex4(b, p + 4);
  if (hi < 0 || lo < 0) return -1;
  return hi * 65536 + lo;
}

/**
 * The kernel prints each 32-bit word of an address as a host-order integer (`%08X` of a
 * __be32), so on little-endian machines the bytes of each word come out reversed.
 */
function wordBytes(w: number, out: number[], at: number): void {
  if (LE) {
    out[at] = w & 255;
    out[at + 1] = (w >>> 8) & 255;
    out[at + 2] = (w >>> 16) & 255;
    out[at + 3] = w >>> 24;
  } else {
    out[at] = w >>> 24;
    out[at + 1] = (w >>> 16) & 255;
    out[at + 2] = (w >>> 8) & 255;
    out[at + 3] = w & 255;
  }
}

const v4Cache = new Map<number, string>();
const v6Cache = new Map<string, string>();
const CACHE_MAX = 4096;
const scratch: number[] = new Array(16).fill(0);

function decodeV4(b: Uint8Array, p: number): string {
  const w = hex8(b, p);
  if (w < 0)
    throw new ParseError(`bad IPv4 address in /proc/net/tcp: ${Buffer.from(b.subarray(p, p + 8)).toString('latin1')}`);
  let s = v4Cache.get(w);
  if (s === undefined) {
    wordBytes(w, scratch, 0);
    s = `${scratch[0]}.${scratch[1]}.${scratch[2]}.${scratch[3]}`;
    if (v4Cache.size >= CACHE_MAX) v4Cache.clear();
    v4Cache.set(w, s);
  }
  return s;
}

const MAPPED_WORD = LE ? 0xffff0000 : 0x0000ffff;
const v6LowCache = new Map<number, string>();

function decodeV6(b: Uint8Array, p: number): string {
  // Fast paths without a key string: ::ffff:a.b.c.d (every IPv4 peer of a dual-stack
  // listener, the common case) and ::x (::, ::1).
  if (hex8(b, p) === 0 && hex8(b, p + 8) === 0) {
    const w2 = hex8(b, p + 16);
    if (w2 === MAPPED_WORD) return decodeV4(b, p + 24);
    if (w2 === 0) {
      const w3 = hex8(b, p + 24);
      if (w3 >= 0) {
        let s = v6LowCache.get(w3);
        if (s === undefined) {
          scratch.fill(0, 0, 12);
          wordBytes(w3, scratch, 12);
          s = formatIPv6Bytes(scratch);
          if (v6LowCache.size >= CACHE_MAX) v6LowCache.clear();
          v6LowCache.set(w3, s);
        }
        return s;
      }
    }
  }
  const key = Buffer.from(b.buffer, b.byteOffset + p, 32).toString('latin1');
  let s = v6Cache.get(key);
  if (s === undefined) {
    for (let i = 0; i < 4; i++) {
      const w = hex8(b, p + i * 8);
      if (w < 0) throw new ParseError(`bad IPv6 address in /proc/net/tcp6: ${key}`);
      wordBytes(w, scratch, i * 4);
    }
    s = formatIPv6Bytes(scratch);
    if (v6Cache.size >= CACHE_MAX) v6Cache.clear();
    v6Cache.set(key, s);
  }
  return s;
}

/** 16 address bytes → RFC 5952 text (longest zero run as `::`); ::ffff:a.b.c.d → a.b.c.d. */
export function formatIPv6Bytes(bytes: ArrayLike<number>): string {
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (bytes[i] !== 0) mapped = false;
  if (mapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** `127.0.0.1:8080`, `[::1]:8080` (the netstat JSON of docs/contracts.md). */
export function formatEndpoint(e: TcpEndpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function portMatches(lport: number, rport: number, port: number, side: PortSide): boolean {
  if (side === 'local') return lport === port;
  if (side === 'remote') return rport === port;
  return lport === port || rport === port;
}

function bad(family: 4 | 6, b: Uint8Array, start: number, end: number): ParseError {
  const line = Buffer.from(b.buffer, b.byteOffset + start, Math.min(end - start, 200)).toString('latin1');
  return new ParseError(`unexpected line in /proc/net/tcp${family === 6 ? '6' : ''}: "${line.trim()}"`);
}

/**
 * Walks the rows of a /proc/net/tcp{,6} buffer without regex or per-line strings: the
 * kernel's columns are fixed-width hex after the `sl:` prefix, so every field is read at a
 * known offset. `visit` gets the row's offset, ports, state code and line bounds.
 */
export function scanProcNetTcp(
  b: Uint8Array,
  family: 4 | 6,
  visit: (p: number, lport: number, rport: number, code: number, start: number, end: number) => void,
): void {
  const L = LAYOUT[family];
  const len = b.length;
  let pos = b.indexOf(NL);
  if (pos < 0) return; // header only (or empty)
  pos++;
  while (pos < len) {
    let end = b.indexOf(NL, pos);
    if (end < 0) end = len;
    // Skip the right-aligned "sl" column: spaces, digits, ':' and one space.
    let p = pos;
    while (p < end && b[p] !== COLON) p++;
    if (p >= end) {
      // blank trailing line
      let blank = true;
      for (let i = pos; i < end; i++) if (b[i] !== SPACE) blank = false;
      if (!blank) throw bad(family, b, pos, end);
      pos = end + 1;
      continue;
    }
    p += 2;
    if (p + L.min > end || b[p + L.addr] !== COLON || b[p + L.rport - 1] !== COLON) throw bad(family, b, pos, end);
    const lport = hex4(b, p + L.lport);
    const rport = hex4(b, p + L.rport);
    const c1 = HEX[b[p + L.state]!]!;
    const c2 = HEX[b[p + L.state + 1]!]!;
    if (lport < 0 || rport < 0 || (c1 | c2) < 0) throw bad(family, b, pos, end);
    visit(p, lport, rport, (c1 << 4) | c2, pos, end);
    pos = end + 1;
  }
}

/** Reads the inode: the 7th whitespace-separated column counting from the state. */
function readInode(b: Uint8Array, p: number, end: number): number {
  // After the state: tx:rx, tr:when, retrnsmt, uid, timeout, inode.
  let field = 0;
  let i = p;
  while (i < end) {
    while (i < end && b[i] === SPACE) i++;
    if (field === 6) {
      let n = 0;
      while (i < end && b[i]! >= 48 && b[i]! <= 57) n = n * 10 + (b[i++]! - 48);
      return n;
    }
    while (i < end && b[i] !== SPACE) i++;
    field++;
  }
  return 0;
}

/**
 * Parses the text of /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6) into sockets.
 * With `port`, rows whose ports do not match are skipped before any address is decoded.
 */
export function parseProcNetTcp(data: Uint8Array | string, family: 4 | 6, options: ParseOptions = {}): TcpSocket[] {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const { port, side = 'either', inode = false, limit = Number.POSITIVE_INFINITY } = options;
  const L = LAYOUT[family];
  const decode = family === 4 ? decodeV4 : decodeV6;
  const out: TcpSocket[] = [];
  scanProcNetTcp(b, family, (p, lport, rport, code, start, end) => {
    if (out.length >= limit || (port !== undefined && !portMatches(lport, rport, port, side))) return;
    const state = STATE_BY_CODE[code];
    if (state === undefined) throw bad(family, b, start, end);
    const s: TcpSocket = {
      local: { address: decode(b, p), port: lport },
      remote: { address: decode(b, p + L.raddr), port: rport },
      state,
      family,
    };
    if (inode) s.inode = readInode(b, p + L.state, end);
    out.push(s);
  });
  return out;
}

/**
 * Adds the rows of a /proc/net/tcp{,6} buffer to `counts` by state, decoding only ports and
 * state (no addresses, no objects). Returns how many rows matched.
 */
export function countProcNetTcp(
  data: Uint8Array | string,
  family: 4 | 6,
  counts: StateCounts,
  filter: RowFilter = {},
): number {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const { port, side = 'either' } = filter;
  // Count into a small typed array indexed by code, name them once at the end.
  const byCode = new Uint32Array(16);
  let n = 0;
  scanProcNetTcp(b, family, (_p, lport, rport, code, start, end) => {
    if (port !== undefined && !portMatches(lport, rport, port, side)) return;
    if (code === 0 || code > 12) throw bad(family, b, start, end);
    byCode[code]!++;
    n++;
  });
  for (let code = 1; code <= 12; code++) {
    const c = byCode[code]!;
    if (c) counts[STATE_BY_CODE[code]!] += c;
  }
  return n;
}
