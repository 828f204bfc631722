import { DEFAULTS } from './defaults.js';
import type { Done, Engine, EngineContext } from './engine.js';
import { headersTemplate } from './h2/frames.js';
import { encodeRequestBlock } from './h2/hpack.js';
import { type H2Counters, H2Session, type SessionConfig } from './h2/session.js';
import type { RequestShape } from './request-shape.js';
import { timeoutError, Watchdog } from './watchdog.js';

/**
 * The h2 engine (`--engine h2`, alias h2c): a frame-level HTTP/2 client over the one dialer
 * (prior knowledge on http://, ALPN h2 on https://; no TLS session cache by default, as
 * http2.connect has none). `-c` sessions per run, spread over the workers; each carries up
 * to `--streams` concurrent streams (fewer if the server's MAX_CONCURRENT_STREAMS says so:
 * the rest wait for a stream). The request's header block is encoded once; the server's are
 * decoded with a real HPACK table. A session that dies, receives GOAWAY or runs out of stream
 * ids is replaced on the next request (a new connection, counted as such); streams above a
 * GOAWAY's last stream id are sent again on the new session.
 * --timeout: a request with no response in time fails as ETIMEDOUT, and so does every other
 * request on its session, which is destroyed (a session that leaves a stream unanswered is
 * treated as a dead connection, as the HTTP/1.1 engines treat theirs).
 * At the end of the run sessions close gracefully (RST_STREAM for abandoned streams, GOAWAY,
 * then FIN) within a bounded wait.
 */
export function createH2cEngine(ctx: EngineContext): Engine {
  const { options } = ctx;
  const body = ctx.shape.body;
  const cfg: SessionConfig = {
    dial: ctx.dial,
    stats: ctx.stats,
    nextLocalAddress: ctx.nextLocalAddress,
    template: headersTemplate(
      encodeRequestBlock(requestFields(ctx.shape, ctx.url.protocol === 'https:' ? 'https' : 'http')),
      body === null || body.length === 0,
    ),
    body,
    consume: options.consumeBody,
    streams: options.streams ?? DEFAULT_STREAMS,
    retry: (slot, done) => sendOn(slot, done),
    counters: h2Counters(ctx.stats.c),
  };
  const slots: Array<H2Session | null> = Array.from({ length: ctx.slice.connections }, () => null);
  const sessions = new Set<H2Session>();
  let rr = 0;

  const sendOn = (slot: number, done: Done): void => {
    let s = slots[slot]!;
    if (s === null || !s.usable) {
      s = new H2Session(cfg, slot);
      const opened = s;
      sessions.add(opened);
      opened.closed.then(() => {
        sessions.delete(opened);
        if (slots[slot] === opened) slots[slot] = null;
      });
      slots[slot] = s;
    }
    s.request(done);
  };

  const timeoutMs = options.timeoutMs;
  const watchdog = new Watchdog(timeoutMs, (now) => {
    for (const s of sessions) if (s.expired(now, timeoutMs)) s.destroyWith(timeoutError(timeoutMs));
  });

  return {
    send(slot: number, done: Done): void {
      if (slot >= 0) {
        sendOn(slot % slots.length, done);
        return;
      }
      // Open model: the session slot with the fewest requests in flight, round-robin among equals.
      let best = rr;
      for (let k = 0; k < slots.length; k++) {
        const i = (rr + k) % slots.length;
        const load = slots[i]?.load ?? 0;
        if (load === 0) {
          best = i;
          break;
        }
        if (load < (slots[best]?.load ?? 0)) best = i;
      }
      rr = (rr + 1) % slots.length;
      sendOn(best, done);
    },
    async close(): Promise<void> {
      watchdog.stop();
      await Promise.all([...sessions].map((s) => s.closeGracefully(DEFAULTS.h2cCloseGraceMs)));
    },
  };
}

/**
 * The h2 counts live beside the worker's other counters, so they travel in every stats
 * envelope (`{ ...counters }`) to the main thread, where the report's `h2` object is made.
 */
function h2Counters(c: object): H2Counters {
  const h = c as Partial<H2Counters>;
  h.streams ??= 0;
  h.peerMaxStreams ??= 0;
  return h as H2Counters;
}

/** --streams when the options carry none (the API's default, LIMITS.streams). */
const DEFAULT_STREAMS = 100;

/** The request as HTTP/2 fields: pseudo-headers first, then the headers in order, names in lower case. */
export function requestFields(shape: RequestShape, scheme: 'http' | 'https'): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    [':method', shape.method],
    [':scheme', scheme],
    [':authority', shape.authority],
    [':path', shape.path],
  ];
  for (const [n, v] of shape.headers) fields.push([n.toLowerCase(), v]);
  return fields;
}
