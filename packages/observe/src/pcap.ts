import { formatIPv6Bytes, ParseError } from '@kalab/core';
import type { PacketView } from './report.js';

/** A capture read back: every TCP connection's packet view, keyed `client>server` like the tracker's lives. */
export interface CaptureView {
  packets: number;
  connections: Map<string, PacketView>;
  totals: PacketView;
  /** Most connections open at once to each server endpoint, from SYN to first FIN or RST (exact, unlike samples). */
  peakOpen: Map<string, number>;
}

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

// A request line at the start of a segment, or right after the end of a previous request's head (pipelining).
const REQUEST_LINE =
  /(?:^|\r\n\r\n)(?:GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT) [^ \r\n]+ HTTP\/1\.[01]\r\n/g;

function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

interface Flow {
  a: string;
  b: string;
  /** Who sent the SYN (without ACK): that side is the client. */
  clientIsA: boolean | null;
  view: PacketView;
  requestsFromA: number;
  requestsFromB: number;
  /** Capture time (µs) of the first SYN and of the first FIN or RST. */
  openedUs: number | null;
  endedUs: number | null;
}

/**
 * Reads a classic pcap file (what `tcpdump -w` writes) of Ethernet, Linux cooked or raw IP
 * frames and counts, per TCP connection, SYN, SYN-ACK, FIN and RST segments and HTTP/1.x
 * request lines in plain-text payloads.
 */
export function readCapture(file: Buffer): CaptureView {
  if (file.length < 24) throw new ParseError(`not a pcap file: ${file.length} bytes`);
  const magic = file.readUInt32LE(0);
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new ParseError(`not a pcap file (magic ${magic.toString(16)}); pcapng is not read, use tcpdump -w`);
  const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20);
  const flows = new Map<string, Flow>();
  const totals: PacketView = { syn: 0, synAck: 0, fin: 0, rst: 0, requests: 0 };
  let packets = 0;
  let off = 24;
  while (off + 16 <= file.length) {
    const atUs = u32(off) * 1e6 + (nanos ? Math.floor(u32(off + 4) / 1000) : u32(off + 4));
    const caplen = u32(off + 8);
    const start = off + 16;
    off = start + caplen;
    if (off > file.length) break; // truncated last record (capture stopped mid-write)
    packets++;
    let ip: number;
    if (linkType === 1) {
      const etherType = file.readUInt16BE(start + 12);
      if (etherType !== 0x0800 && etherType !== 0x86dd) continue;
      ip = start + 14;
    } else if (linkType === 113) ip = start + 16;
    else if (linkType === 276) ip = start + 20;
    else if (linkType === 101 || linkType === 12 || linkType === 14) ip = start;
    else if (linkType === 0) ip = start + 4;
    else throw new ParseError(`pcap link type ${linkType} is not read (capture on lo or any)`);
    if (ip >= off) continue;
    const version = file[ip]! >> 4;
    let src: string;
    let dst: string;
    let tcp: number;
    let end: number;
    if (version === 4) {
      if (file[ip + 9] !== 6) continue;
      const ihl = (file[ip]! & 0x0f) * 4;
      end = Math.min(off, ip + file.readUInt16BE(ip + 2));
      src = `${file[ip + 12]}.${file[ip + 13]}.${file[ip + 14]}.${file[ip + 15]}`;
      dst = `${file[ip + 16]}.${file[ip + 17]}.${file[ip + 18]}.${file[ip + 19]}`;
      tcp = ip + ihl;
    } else if (version === 6) {
      if (file[ip + 6] !== 6) continue; // extension headers: not on loopback TCP
      end = Math.min(off, ip + 40 + file.readUInt16BE(ip + 4));
      src = formatIPv6Bytes(file.subarray(ip + 8, ip + 24));
      dst = formatIPv6Bytes(file.subarray(ip + 24, ip + 40));
      tcp = ip + 40;
    } else continue;
    if (tcp + 20 > off) continue;
    const sport = file.readUInt16BE(tcp);
    const dport = file.readUInt16BE(tcp + 2);
    const flags = file[tcp + 13]!;
    const payload = file.subarray(tcp + (file[tcp + 12]! >> 4) * 4, end);
    const from = endpoint(src, sport);
    const to = endpoint(dst, dport);
    const [lo, hi] = from < to ? [from, to] : [to, from];
    const key = `${lo}|${hi}`;
    let flow = flows.get(key);
    // A SYN on a tuple whose connection already ended starts a new one (port reuse).
    if (flow && flags & SYN && !(flags & ACK) && (flow.view.fin > 0 || flow.view.rst > 0)) {
      flows.set(`${key}#${packets}`, flow);
      flow = undefined;
    }
    if (!flow) {
      flow = {
        a: lo,
        b: hi,
        clientIsA: null,
        view: { syn: 0, synAck: 0, fin: 0, rst: 0, requests: 0 },
        requestsFromA: 0,
        requestsFromB: 0,
        openedUs: null,
        endedUs: null,
      };
      flows.set(key, flow);
    }
    const fromA = from === flow.a;
    if (flags & SYN) flow.openedUs ??= atUs;
    if (flags & (FIN | RST)) flow.endedUs ??= atUs;
    if (flags & SYN) {
      if (flags & ACK) {
        flow.view.synAck++;
        totals.synAck++;
        flow.clientIsA ??= !fromA;
      } else {
        flow.view.syn++;
        totals.syn++;
        flow.clientIsA ??= fromA;
      }
    }
    if (flags & FIN) {
      flow.view.fin++;
      totals.fin++;
    }
    if (flags & RST) {
      flow.view.rst++;
      totals.rst++;
    }
    if (payload.length > 0) {
      const n = payload.toString('latin1', 0, Math.min(payload.length, 65_536)).match(REQUEST_LINE)?.length ?? 0;
      if (fromA) flow.requestsFromA += n;
      else flow.requestsFromB += n;
    }
  }
  const connections = new Map<string, PacketView>();
  const events = new Map<string, [number, number][]>();
  for (const flow of flows.values()) {
    const clientIsA = flow.clientIsA ?? flow.requestsFromA >= flow.requestsFromB;
    const client = clientIsA ? flow.a : flow.b;
    const server = clientIsA ? flow.b : flow.a;
    const requests = clientIsA ? flow.requestsFromA : flow.requestsFromB;
    flow.view.requests = requests;
    totals.requests += requests;
    if (flow.openedUs !== null) {
      let list = events.get(server);
      if (!list) {
        list = [];
        events.set(server, list);
      }
      list.push([flow.openedUs, 1], [flow.endedUs ?? Number.POSITIVE_INFINITY, -1]);
    }
    const key = `${client}>${server}`;
    const prev = connections.get(key);
    if (prev) {
      // The same tuple reused: one entry per tuple, counts summed (lives split them by time).
      prev.syn += flow.view.syn;
      prev.synAck += flow.view.synAck;
      prev.fin += flow.view.fin;
      prev.rst += flow.view.rst;
      prev.requests += flow.view.requests;
    } else connections.set(key, flow.view);
  }
  const peakOpen = new Map<string, number>();
  for (const [server, list] of events) {
    list.sort((x, y) => x[0] - y[0] || x[1] - y[1]); // an end before an open at the same instant
    let open = 0;
    let peak = 0;
    for (const [, d] of list) {
      open += d;
      if (open > peak) peak = open;
    }
    peakOpen.set(server, peak);
  }
  return { packets, connections, totals, peakOpen };
}
