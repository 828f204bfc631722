import http from 'node:http';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { type DriverContext, type DriverExtras, sleep, trackRequestSocket } from './driver.js';

/**
 * A client whose pool never drops idle connections by itself, like Go's Transport with its
 * 90 s IdleConnTimeout against a server that closes after a shorter idle time; Node's own
 * Agent would read the server's `Keep-Alive: timeout` hint instead (see honourKeepAliveHint).
 */
class IdleForeverAgent extends http.Agent {
  constructor(
    options: http.AgentOptions,
    private readonly idleTimeoutMs: number,
  ) {
    super(options);
  }

  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.unref();
    // 0 = no client idle timeout. Otherwise the Agent destroys the free socket on 'timeout'.
    socket.setTimeout(this.idleTimeoutMs);
    return true;
  }
}

/**
 * Aiming: a staircase around the server's idle close. A request that went out on its pooled
 * socket and came back fine was early, so the aim moves later; one whose socket was already
 * gone (a new connection) was late, so it moves earlier. The aim settles on the boundary,
 * whatever a busy event loop does to timers; each send adds a little jitter around it.
 * Each of the `concurrency` sends of a round moves the aim by ROUND_STEP_MS / concurrency.
 */
const ROUND_STEP_MS = 3;
const JITTER_MS = 1.5;
/** How far the aim may wander from the measured close. */
const AIM_RANGE_MS: [number, number] = [-25, 25];
/** The race phase stops early after this many rounds once it has its reset. */
const MIN_ROUNDS = 2;
/**
 * A race phase that has not met a reset after its `requests` rounds keeps going, up to this
 * many times as many rounds (~300 ms each, well inside the phase's time limit): hitting the
 * close is a matter of chance, and an idle machine hits it less often than a busy one.
 */
const MAX_ROUNDS_FACTOR = 3;

/**
 * keepalive-race: each worker sends a request, then waits until the moment the server
 * closes idle connections (measured first) and sends the next one on the pooled socket.
 * Requests that meet a socket the server just closed fail with ECONNRESET on a reused
 * socket; the mitigations (client idle timeout, Keep-Alive hint, retry) make that zero.
 */
export async function raceDriver(ctx: DriverContext): Promise<DriverExtras> {
  const { client } = ctx.phase;
  const c = ctx.counters;
  const idleCloseMs = await measureIdleClose(ctx);
  ctx.note(
    `${ctx.phase.name}: the server closes idle connections ${idleCloseMs.toFixed(1)} ms after a response; aiming requests at that moment`,
  );

  const agent: http.Agent = client.honourKeepAliveHint
    ? new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
    : new IdleForeverAgent(
        { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: Number.POSITIVE_INFINITY },
        client.idleTimeoutMs ?? 0,
      );
  const sockets = new Set<Socket>();
  const inFlight = new Set<http.ClientRequest>();

  const attempt = (viaAgent: http.Agent | false) =>
    new Promise<{ ok: boolean; err?: NodeJS.ErrnoException; reused: boolean }>((resolve) => {
      const startedAt = performance.now();
      const req = http.get({ host: ctx.host, port: ctx.port, path: '/', agent: viaAgent });
      inFlight.add(req);
      const finish = (r: { ok: boolean; err?: NodeJS.ErrnoException; reused: boolean }) => {
        inFlight.delete(req);
        resolve(r);
      };
      trackRequestSocket(req, c, sockets);
      req.on('response', (res) => {
        res.resume();
        res.once('end', () => {
          c.response(res.statusCode ?? 0, startedAt);
          finish({ ok: true, reused: req.reusedSocket });
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, err, reused: req.reusedSocket }));
    });

  let aimMs = idleCloseMs;
  const step = ROUND_STEP_MS / client.concurrency;
  const steer = (r: { ok: boolean; reused: boolean }) => {
    if (r.ok) aimMs += r.reused ? step : -step;
    aimMs = Math.min(idleCloseMs + AIM_RANGE_MS[1], Math.max(idleCloseMs + AIM_RANGE_MS[0], aimMs));
  };
  const one = async (boundary: boolean) => {
    c.sent++;
    const r = await attempt(agent);
    if (boundary) steer(r);
    if (r.ok) return;
    if (r.reused && r.err?.code === 'ECONNRESET') c.resetsOnReusedSocket++;
    if (client.retryIdempotent && r.reused && r.err?.code === 'ECONNRESET') {
      // GET is idempotent: send it again, on a connection of its own.
      c.retries++;
      const again = await attempt(false);
      if (again.ok) return;
      c.error(again.err);
      return;
    }
    c.error(r.err);
  };

  const onAbort = () => {
    for (const req of inFlight) req.destroy();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const stopEarly = !client.retryIdempotent && !client.honourKeepAliveHint && client.idleTimeoutMs == null;
  try {
    const worker = async () => {
      await one(false);
      const maxRounds = stopEarly ? client.requests * MAX_ROUNDS_FACTOR : client.requests;
      for (let round = 0; round < maxRounds && !ctx.signal.aborted; round++) {
        if (stopEarly && round >= MIN_ROUNDS && c.resetsOnReusedSocket > 0) break;
        if (round >= client.requests && c.resetsOnReusedSocket > 0) break;
        await sleep(Math.max(0, aimMs + (Math.random() * 2 - 1) * JITTER_MS), ctx.signal);
        await one(true);
      }
    };
    await Promise.all(Array.from({ length: client.concurrency }, worker));
    if (stopEarly && c.resetsOnReusedSocket === 0 && !ctx.signal.aborted) {
      ctx.note(
        `${ctx.phase.name}: no request met the close by timing alone; now with the client's event loop busy as the server closes`,
      );
      await busyClientRace(ctx, idleCloseMs);
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    agent.destroy();
    for (const s of sockets) s.destroy();
  }
  return {};
}

/** Attempts of the busy-client fallback; the first one almost always gets its reset. */
const BUSY_TRIES = 3;

/**
 * The busy client, in a worker thread of its own: in the sandbox the lab server shares this
 * process, and stalling this event loop would stall the server's idle close too.
 */
const BUSY_CLIENT_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { host, port, idleCloseMs, tries } = workerData;
class IdleForever extends http.Agent {
  keepSocketAlive(socket) { socket.setKeepAlive(true, 1000); socket.setTimeout(0); return true; }
}
const agent = new IdleForever({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
let opened = 0;
let closed = 0;
const get = () => new Promise((resolve) => {
  const t0 = performance.now();
  const req = http.get({ host, port, path: '/', agent }, (res) => {
    res.resume();
    res.once('end', () => resolve({ ok: true, status: res.statusCode, reused: req.reusedSocket, ms: performance.now() - t0 }));
  });
  req.once('socket', (socket) => {
    if (req.reusedSocket) return;
    opened++;
    socket.once('close', () => closed++);
  });
  req.once('error', (err) => resolve({ ok: false, code: err.code, reused: req.reusedSocket, ms: performance.now() - t0 }));
});
(async () => {
  const results = [];
  for (let i = 0; i < tries; i++) {
    results.push(await get());
    const endedAt = performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, idleCloseMs - 20)));
    while (performance.now() < endedAt + idleCloseMs + 30) {
      // Busy: the server's FIN reaches the kernel while this loop holds the event loop.
    }
    const r = await get();
    results.push(r);
    if (!r.ok && r.reused && r.code === 'ECONNRESET') break;
  }
  agent.destroy();
  const deadline = Date.now() + 1000;
  while (closed < opened && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  parentPort.postMessage({ results, opened, closed });
})();
`;

interface BusyResult {
  ok: boolean;
  status?: number;
  code?: string;
  reused: boolean;
  ms: number;
}

/**
 * The race as it happens in production, deterministically: a client whose event loop is busy
 * (a long synchronous task) while the server's idle close arrives has not seen the FIN yet, so
 * its pool still hands out that socket and the request is written into a closed connection.
 * On an idle loopback the window between the FIN and the client noticing it is microseconds,
 * so timing alone may miss it. Bounded: at most BUSY_TRIES pairs of requests, a ~50 ms stall each.
 */
async function busyClientRace(ctx: DriverContext, idleCloseMs: number): Promise<void> {
  const c = ctx.counters;
  const worker = new Worker(BUSY_CLIENT_SOURCE, {
    eval: true,
    workerData: { host: ctx.host, port: ctx.port, idleCloseMs, tries: BUSY_TRIES },
  });
  const onAbort = () => void worker.terminate();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await new Promise<{ results: BusyResult[]; opened: number; closed: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`busy client exited with ${code}`)));
    });
    for (let i = 0; i < out.opened; i++) c.connectionOpened();
    c.closed += out.closed;
    for (const r of out.results) {
      c.sent++;
      if (r.reused) c.reused++;
      if (r.ok) {
        c.response(r.status ?? 0, performance.now() - r.ms);
        continue;
      }
      if (r.reused && r.code === 'ECONNRESET') c.resetsOnReusedSocket++;
      c.error({ code: r.code });
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}

/** Probes run at once to measure the server's idle close; a stall can skew one either way, so take the median. */
const PROBES = 5;

/**
 * The time from the end of a response to the server's idle close reaching the client,
 * measured on PROBES pooled sockets at once (the median). A first estimate only: the aim then
 * follows what the requests meet.
 */
async function measureIdleClose(ctx: DriverContext): Promise<number> {
  const agent = new IdleForeverAgent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY }, 0);
  const c = ctx.counters;
  const probe = () =>
    new Promise<number>((resolve, reject) => {
      const startedAt = performance.now();
      // A probe is a connection like any other: the kernel counts its SYN, so does the lab.
      c.sent++;
      c.connectionOpened();
      const req = http.get({ host: ctx.host, port: ctx.port, path: '/', agent }, (res) => {
        res.resume();
        res.once('end', () => {
          c.response(res.statusCode ?? 0, startedAt);
          const endedAt = performance.now();
          const socket = req.socket;
          if (!socket) return reject(new Error('no socket'));
          socket.once('close', () => {
            c.closed++;
            resolve(performance.now() - endedAt);
          });
        });
      });
      req.once('socket', (socket: Socket) => {
        const connecting = performance.now();
        socket.once('connect', () => c.connected(connecting));
      });
      req.on('error', reject);
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted while measuring the server idle timeout')), {
        once: true,
      });
    });
  try {
    const times = (await Promise.all(Array.from({ length: PROBES }, probe))).sort((a, b) => a - b);
    return times[Math.floor(PROBES / 2)]!;
  } finally {
    agent.destroy();
  }
}
