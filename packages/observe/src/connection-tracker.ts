import { countStates, formatEndpoint, type StateCounts, type TcpSocket, type TcpState } from '@kalab/core';
import { OBSERVE_DEFAULTS } from './defaults.js';
import type { ConnectionLife, RemoteSummary, TimelineEntry } from './report.js';

/** One look at the TCP table: the sockets to account for (LISTEN rows included), and when. */
export interface TrackerSample {
  /** ms since the observation started. */
  atMs: number;
  sockets: readonly TcpSocket[];
  /** The namespace's ActiveOpens counter, when every SYN in it is the program's (namespace mode). */
  activeOpens?: number;
}

type Side = 'client' | 'server';

/** A live look at the observation, once a second. */
export interface TrackerTick {
  atMs: number;
  /** The current second of the timeline. */
  entry: TimelineEntry;
  remotes: RemoteSummary[];
  samples: number;
  /** New connections since the start (ActiveOpens in a namespace, lives seen with --pid). */
  opened: number;
  /** The last sample's sockets by state. */
  states: Record<string, number>;
}

interface Life {
  client: string;
  server: string;
  firstSeenMs: number;
  lastSeenMs: number;
  clientState: TcpState | null;
  serverState: TcpState | null;
  closedFirst: 'client' | 'server' | 'both' | null;
  timeWait: Side | null;
  /** Last sample this life was present in, and each of its sides. */
  sampleNo: number;
  clientNo: number;
  serverNo: number;
}

// The side that closes first goes FIN_WAIT1 → FIN_WAIT2 → TIME_WAIT; the other CLOSE_WAIT → LAST_ACK.
const ACTIVE_CLOSE = new Set<TcpState>(['FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSING']);
const PASSIVE_CLOSE = new Set<TcpState>(['CLOSE_WAIT', 'LAST_ACK']);
const OPENING = new Set<TcpState>(['SYN_SENT', 'SYN_RECV', 'ESTABLISHED']);
const GONE = new Set<TcpState>(['TIME_WAIT', 'CLOSE']);

const other = (s: Side): Side => (s === 'client' ? 'server' : 'client');

/**
 * Turns successive samples of a TCP table into connection lives: each connection once, by its
 * 4-tuple, with both of its sockets when both ends are local (a program and its own server in
 * one namespace). The client side is the one that did not bind a listening port.
 */
export class ConnectionTracker {
  private readonly live = new Map<string, Life>();
  private readonly ended: Life[] = [];
  private endedCount = 0;
  private endedOpened = 0;
  private endedAccepted = 0;
  private readonly listenPorts = new Set<number>();
  private readonly remotes = new Map<
    string,
    { opened: number; peakOpen: number; timeWait: number; vanished: number }
  >();
  private readonly seconds: TimelineEntry[] = [];
  private samples = 0;
  private lastStates: StateCounts | null = null;
  private newTotal = 0;
  private lastActiveOpens: number | undefined;
  private lastAtMs = 0;

  constructor(
    private readonly ephemeralRange: readonly [number, number] | null = null,
    private readonly maxLives: number = OBSERVE_DEFAULTS.maxLives,
  ) {}

  get sampleCount(): number {
    return this.samples;
  }

  get durationMs(): number {
    return this.lastAtMs;
  }

  /** Which side of its connection a socket is, and the connection's (client, server) endpoints. */
  private roleOf(s: TcpSocket): { side: Side; client: string; server: string } {
    const local = formatEndpoint(s.local);
    const remote = formatEndpoint(s.remote);
    let server: boolean;
    if (this.listenPorts.has(s.local.port) !== this.listenPorts.has(s.remote.port)) {
      server = this.listenPorts.has(s.local.port);
    } else if (this.ephemeralRange) {
      const [lo, hi] = this.ephemeralRange;
      const inRange = (p: number) => p >= lo && p <= hi;
      server = inRange(s.remote.port) && !inRange(s.local.port);
    } else {
      server = s.local.port < s.remote.port;
    }
    return server
      ? { side: 'server', client: remote, server: local }
      : { side: 'client', client: local, server: remote };
  }

  private remote(name: string) {
    let r = this.remotes.get(name);
    if (!r) {
      r = { opened: 0, peakOpen: 0, timeWait: 0, vanished: 0 };
      this.remotes.set(name, r);
    }
    return r;
  }

  private end(key: string, life: Life): void {
    this.live.delete(key);
    this.endedCount++;
    if (life.clientState !== null) this.endedOpened++;
    if (life.serverState !== null) this.endedAccepted++;
    if (this.ended.length < this.maxLives) this.ended.push(life);
  }

  add(sample: TrackerSample): void {
    const no = ++this.samples;
    this.lastAtMs = sample.atMs;
    this.lastStates = countStates(sample.sockets);
    for (const s of sample.sockets) if (s.state === 'LISTEN') this.listenPorts.add(s.local.port);
    let newLives = 0;
    for (const s of sample.sockets) {
      if (s.state === 'LISTEN') continue;
      const { side, client, server } = this.roleOf(s);
      const key = `${client}>${server}`;
      let life = this.live.get(key);
      const prev = life ? (side === 'client' ? life.clientState : life.serverState) : null;
      // The same 4-tuple again after TIME_WAIT (tcp_tw_reuse) or a vanished socket: a new connection.
      if (
        life &&
        OPENING.has(s.state) &&
        prev !== null &&
        (GONE.has(prev) || PASSIVE_CLOSE.has(prev) || ACTIVE_CLOSE.has(prev))
      ) {
        this.end(key, life);
        life = undefined;
      }
      if (!life) {
        life = {
          client,
          server,
          firstSeenMs: sample.atMs,
          lastSeenMs: sample.atMs,
          clientState: null,
          serverState: null,
          closedFirst: null,
          timeWait: null,
          sampleNo: no,
          clientNo: 0,
          serverNo: 0,
        };
        this.live.set(key, life);
        this.remote(server).opened++;
        newLives++;
      }
      life.lastSeenMs = sample.atMs;
      life.sampleNo = no;
      if (side === 'client') {
        life.clientState = s.state;
        life.clientNo = no;
      } else {
        life.serverState = s.state;
        life.serverNo = no;
      }
      if (ACTIVE_CLOSE.has(s.state)) {
        if (life.closedFirst === null) life.closedFirst = s.state === 'CLOSING' ? 'both' : side;
        else if (life.closedFirst === other(side) && (s.state === 'TIME_WAIT' || s.state === 'CLOSING')) {
          // Both sides sent FIN before seeing the other's: a simultaneous close.
          const o = side === 'client' ? life.serverState : life.clientState;
          if (o === 'TIME_WAIT' || o === 'CLOSING') life.closedFirst = 'both';
        }
      } else if (PASSIVE_CLOSE.has(s.state) && life.closedFirst === null) {
        life.closedFirst = other(side);
      }
      if (s.state === 'TIME_WAIT' && life.timeWait === null) {
        life.timeWait = side;
        this.remote(server).timeWait++;
      }
    }
    // Connections with no socket left: ended (a reset, or a close whose TIME_WAIT is on a side not seen).
    const open = new Map<string, number>();
    let openTotal = 0;
    let timeWaitNow = 0;
    for (const [key, life] of this.live) {
      if (life.sampleNo !== no) {
        if (life.closedFirst === null && life.timeWait === null) this.remote(life.server).vanished++;
        this.end(key, life);
        continue;
      }
      // A side no longer in the table is closed (its TIME_WAIT, if any, is on the other side).
      if (life.clientState !== null && life.clientNo !== no) life.clientState = 'CLOSE';
      if (life.serverState !== null && life.serverNo !== no) life.serverState = 'CLOSE';
      const live = (st: TcpState | null) => st !== null && !GONE.has(st);
      if (life.clientState === 'TIME_WAIT' || life.serverState === 'TIME_WAIT') timeWaitNow++;
      else if (live(life.clientState) || live(life.serverState)) {
        open.set(life.server, (open.get(life.server) ?? 0) + 1);
        openTotal++;
      }
    }
    for (const [name, n] of open) {
      const r = this.remote(name);
      if (n > r.peakOpen) r.peakOpen = n;
    }
    let fresh = newLives;
    if (sample.activeOpens !== undefined) {
      fresh = this.lastActiveOpens === undefined ? sample.activeOpens : sample.activeOpens - this.lastActiveOpens;
      this.lastActiveOpens = sample.activeOpens;
    }
    const second = Math.floor(sample.atMs / 1000);
    while (this.seconds.length <= second)
      this.seconds.push({ second: this.seconds.length, newConnections: 0, open: 0, timeWait: 0 });
    const entry = this.seconds[second]!;
    entry.newConnections += Math.max(0, fresh);
    this.newTotal += Math.max(0, fresh);
    entry.open = openTotal;
    entry.timeWait = timeWaitNow;
  }

  /** A sample that found nothing changed since the last one: time moves on, every connection stays as it was. */
  unchanged(atMs: number): void {
    this.samples++;
    this.lastAtMs = atMs;
    const last = this.seconds.at(-1) ?? { second: 0, newConnections: 0, open: 0, timeWait: 0 };
    const second = Math.floor(atMs / 1000);
    while (this.seconds.length <= second)
      this.seconds.push({ second: this.seconds.length, newConnections: 0, open: last.open, timeWait: last.timeWait });
  }

  /** What a live view needs now: the current second, the remotes, totals and the last sample's states. */
  tick(): TrackerTick {
    return {
      atMs: this.lastAtMs,
      entry: this.current() ?? { second: 0, newConnections: 0, open: 0, timeWait: 0 },
      remotes: this.remoteSummaries(),
      samples: this.samples,
      opened: this.newTotal,
      states: { ...(this.lastStates ?? {}) },
    };
  }

  /** The timeline so far: one entry per second of the observation. */
  timeline(): TimelineEntry[] {
    return this.seconds.map((e) => ({ ...e }));
  }

  /** The last second's entry (for live ticks). */
  current(): TimelineEntry | undefined {
    const e = this.seconds.at(-1);
    return e ? { ...e } : undefined;
  }

  remoteSummaries(): RemoteSummary[] {
    return [...this.remotes]
      .map(([remote, r]) => ({ remote, ...r }))
      .sort((a, b) => b.opened - a.opened || a.remote.localeCompare(b.remote));
  }

  /** Every life, ended first then still live, oldest first; at most maxLives listed. */
  lives(): { lives: ConnectionLife[]; dropped: number } {
    const all = [...this.ended, ...this.live.values()];
    const listed = all.slice(0, this.maxLives);
    const total = this.endedCount + this.live.size;
    return {
      lives: listed
        .sort((a, b) => a.firstSeenMs - b.firstSeenMs)
        .map((l) => ({
          client: l.client,
          server: l.server,
          firstSeenMs: l.firstSeenMs,
          lastSeenMs: l.lastSeenMs,
          seen:
            l.clientState !== null && l.serverState !== null ? 'both' : l.clientState !== null ? 'client' : 'server',
          closedFirst: l.closedFirst,
          timeWait: l.timeWait,
          lastState: (l.clientState === 'CLOSE' && l.serverState !== null
            ? l.serverState
            : (l.clientState ?? l.serverState))!,
        })),
      dropped: total - listed.length,
    };
  }

  /** Lives by side: connections this side opened (client sockets seen) and accepted (server sockets seen). */
  counts(): { opened: number; accepted: number } {
    let opened = this.endedOpened;
    let accepted = this.endedAccepted;
    for (const l of this.live.values()) {
      if (l.clientState !== null) opened++;
      if (l.serverState !== null) accepted++;
    }
    return { opened, accepted };
  }
}
