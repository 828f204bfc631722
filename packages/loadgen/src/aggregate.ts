import { LatencyHistogram } from '@kalab/core';
import { PROTOCOL_VERSION, type Tick } from '@kalab/protocol';
import { type Counters, type StatsEnvelope, zeroCounters } from './worker-stats.js';

/** Merges the workers' envelopes in the main thread: cumulative counters, histograms added up. */
export class Aggregate {
  private readonly counters = new Map<number, Counters>();
  private readonly errorsBy = new Map<number, Record<string, number>>();
  private readonly firstBy = new Map<number, StatsEnvelope['firstErrors']>();
  private readonly tlsBy = new Map<number, { protocols: Record<string, number>; alpn: Record<string, number> }>();
  /** TLS handshake times over the run (https:// only). */
  readonly handshake = new LatencyHistogram();
  readonly latency = new LatencyHistogram();
  readonly connect = new LatencyHistogram();
  private intervalLatency = new LatencyHistogram();
  private intervalConnect = new LatencyHistogram();
  private seq = 0;
  private last = { at: 0, completed: 0, opened: 0, handshakes: 0 };

  /** `interval: false` for envelopes no tick will follow (a fan-out's merge of final reports): half the merging. */
  add(env: StatsEnvelope, interval = true): void {
    this.counters.set(env.worker, env.counters);
    this.errorsBy.set(env.worker, env.errors);
    this.firstBy.set(env.worker, env.firstErrors);
    if (env.tls) {
      this.tlsBy.set(env.worker, { protocols: env.tls.protocols, alpn: env.tls.alpn });
      if (env.tls.handshake) this.handshake.merge(LatencyHistogram.decode(env.tls.handshake));
    }
    if (env.latency) {
      const h = LatencyHistogram.decode(env.latency);
      this.latency.merge(h);
      if (interval) this.intervalLatency.merge(h);
    }
    if (env.connect) {
      const h = LatencyHistogram.decode(env.connect);
      this.connect.merge(h);
      if (interval) this.intervalConnect.merge(h);
    }
  }

  totals(): Counters {
    const t = zeroCounters();
    for (const c of this.counters.values()) {
      t.sent += c.sent;
      t.ok += c.ok;
      t.non2xx += c.non2xx;
      t.failed += c.failed;
      t.opened += c.opened;
      t.closed += c.closed;
      t.reusedRequests += c.reusedRequests;
      t.handshakes += c.handshakes ?? 0;
      t.resumed += c.resumed ?? 0;
      t.streams = (t.streams ?? 0) + (c.streams ?? 0);
      const pm = c.peerMaxStreams ?? 0;
      if (pm > 0 && (!t.peerMaxStreams || pm < t.peerMaxStreams)) t.peerMaxStreams = pm;
      // Each worker's own peak; their sum bounds the run's peak from above.
      t.maxOpen += c.maxOpen;
    }
    return t;
  }

  errors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.errorsBy.values()) for (const [k, n] of Object.entries(e)) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /** Handshakes by TLS version and by ALPN protocol, summed over workers. */
  tlsCounts(): { protocols: Record<string, number>; alpn: Record<string, number> } {
    const protocols: Record<string, number> = {};
    const alpn: Record<string, number> = {};
    for (const t of this.tlsBy.values()) {
      for (const [k, n] of Object.entries(t.protocols)) protocols[k] = (protocols[k] ?? 0) + n;
      for (const [k, n] of Object.entries(t.alpn)) alpn[k] = (alpn[k] ?? 0) + n;
    }
    return { protocols, alpn };
  }

  /** Earliest occurrence of each error code over all workers (afterConnections: that worker's count). */
  firstErrors(): StatsEnvelope['firstErrors'] {
    const out: StatsEnvelope['firstErrors'] = {};
    for (const f of this.firstBy.values()) {
      for (const [k, v] of Object.entries(f)) {
        const cur = out[k];
        if (!cur || v.atMs < cur.atMs) out[k] = { ...v };
      }
    }
    return out;
  }

  /** A protocol tick (core's TickSchema) over the interval since the previous one. */
  tick(runId: string, startedAt: number, now: number): Tick {
    const t = this.totals();
    const completed = t.ok + t.non2xx;
    const dt = Math.max(1, now - (this.last.at || startedAt)) / 1000;
    const tick: Tick = {
      v: PROTOCOL_VERSION,
      type: 'tick',
      runId,
      seq: this.seq++,
      at: Math.round(now),
      elapsedMs: Math.max(0, now - startedAt),
      totals: {
        requests: completed,
        ok: t.ok,
        non2xx: t.non2xx,
        failed: t.failed,
        connectionsOpened: t.opened,
        connectionsClosed: t.closed,
        reusedRequests: t.reusedRequests,
        ...(this.tlsBy.size > 0 ? { tlsHandshakes: t.handshakes, tlsResumed: t.resumed } : {}),
      },
      rates: {
        rps: Math.max(0, (completed - this.last.completed) / dt),
        newConnPerSec: Math.max(0, (t.opened - this.last.opened) / dt),
        ...(this.tlsBy.size > 0 ? { handshakesPerSec: Math.max(0, (t.handshakes - this.last.handshakes) / dt) } : {}),
      },
      openConnections: Math.max(0, t.opened - t.closed),
      errors: this.errors(),
    };
    if (this.intervalLatency.count > 0) tick.latencyHistogram = this.intervalLatency.encode();
    if (this.intervalConnect.count > 0) tick.connectHistogram = this.intervalConnect.encode();
    this.intervalLatency.reset();
    this.intervalConnect.reset();
    this.last = { at: now, completed, opened: t.opened, handshakes: t.handshakes };
    return tick;
  }
}
