import http from 'node:http';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { BusyClientInput, BusyClientOutput } from './busy-client.js';
import { type DriverContext, type DriverExtras, sleep, trackRequestSocket, usSince } from './driver.js';

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
  const stats = ctx.stats;
  const race = { resets: 0, retries: 0, clientIdleCloses: 0 };
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
  let tearingDown = false;

  const attempt = (viaAgent: http.Agent | false) =>
    new Promise<{ ok: boolean; err?: NodeJS.ErrnoException; reused: boolean }>((resolve) => {
      const startedAt = performance.now();
      const req = http.get({ host: ctx.host, port: ctx.port, path: '/', agent: viaAgent });
      inFlight.add(req);
      const finish = (r: { ok: boolean; err?: NodeJS.ErrnoException; reused: boolean }) => {
        inFlight.delete(req);
        resolve(r);
      };
      trackRequestSocket(req, stats, sockets);
      req.once('socket', (socket: Socket) => {
        if (req.reusedSocket) return;
        // A connection the client closed with no FIN from the server first (and no error): the
        // mitigation dropped it before the server's idle close could meet a request.
        let serverClosed = false;
        socket.once('end', () => {
          serverClosed = true;
        });
        socket.once('close', (hadError) => {
          if (!serverClosed && !hadError && !tearingDown) race.clientIdleCloses++;
        });
      });
      req.on('response', (res) => {
        res.resume();
        res.once('end', () => {
          stats.response(res.statusCode ?? 0, usSince(startedAt));
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
    stats.c.sent++;
    const r = await attempt(agent);
    if (boundary) steer(r);
    if (r.ok) return;
    if (r.reused && r.err?.code === 'ECONNRESET') race.resets++;
    if (client.retryIdempotent && r.reused && r.err?.code === 'ECONNRESET') {
      // GET is idempotent: send it again, on a connection of its own.
      race.retries++;
      const again = await attempt(false);
      if (again.ok) return;
      stats.failed(again.err);
      return;
    }
    stats.failed(r.err);
  };

  const onAbort = () => {
    for (const req of inFlight) req.destroy();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  // The race itself, and the retry that must meet a reset before it can claim to absorb one.
  const needsReset = client.retryIdempotent || (!client.honourKeepAliveHint && client.idleTimeoutMs == null);
  const stopEarly = !client.retryIdempotent && !client.honourKeepAliveHint && client.idleTimeoutMs == null;
  try {
    const worker = async () => {
      await one(false);
      const maxRounds = stopEarly ? client.requests * MAX_ROUNDS_FACTOR : client.requests;
      for (let round = 0; round < maxRounds && !ctx.signal.aborted; round++) {
        if (stopEarly && round >= MIN_ROUNDS && race.resets > 0) break;
        if (round >= client.requests && race.resets > 0) break;
        await sleep(Math.max(0, aimMs + (Math.random() * 2 - 1) * JITTER_MS), ctx.signal);
        await one(true);
      }
    };
    await Promise.all(Array.from({ length: client.concurrency }, worker));
    if (needsReset && race.resets === 0 && !ctx.signal.aborted) {
      ctx.note(
        `${ctx.phase.name}: no request met the close by timing alone; now with the client's event loop busy as the server closes`,
      );
      const busy = await busyClientRace(ctx, idleCloseMs, client.retryIdempotent === true);
      race.resets += busy.resets;
      race.retries += busy.retries;
    }
  } finally {
    tearingDown = true;
    ctx.signal.removeEventListener('abort', onAbort);
    agent.destroy();
    for (const s of sockets) s.destroy();
  }
  return {
    resetsOnReusedSocket: race.resets,
    retries: race.retries,
    ...(client.honourKeepAliveHint || client.idleTimeoutMs != null ? { clientIdleCloses: race.clientIdleCloses } : {}),
  };
}

/** Attempts of the busy-client fallback; the first one almost always gets its reset. */
const BUSY_TRIES = 3;

/** Bound of one busy-client request: far above a loopback answer, far below the phase's bound. */
const BUSY_TIMEOUT_MS = 2000;

/** The busy client: a worker file of this package (dist/drivers/busy-client.js beside this one). */
const BUSY_CLIENT_URL = new URL('./busy-client.js', import.meta.url);

/**
 * The race as it happens in production, deterministically: a client whose event loop is busy
 * (a long synchronous task) while the server's idle close arrives has not seen the FIN yet, so
 * its pool still hands out that socket and the request is written into a closed connection.
 * On an idle loopback the window between the FIN and the client noticing it is microseconds,
 * so timing alone may miss it. Bounded: at most BUSY_TRIES pairs of requests, a ~50 ms stall each.
 */
async function busyClientRace(
  ctx: DriverContext,
  idleCloseMs: number,
  retry: boolean,
): Promise<{ resets: number; retries: number }> {
  const stats = ctx.stats;
  const input: BusyClientInput = {
    host: ctx.host,
    port: ctx.port,
    idleCloseMs,
    tries: BUSY_TRIES,
    retry,
    timeoutMs: BUSY_TIMEOUT_MS,
  };
  const worker = new Worker(BUSY_CLIENT_URL, { workerData: input });
  const onAbort = () => void worker.terminate();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const out = { resets: 0, retries: 0 };
  try {
    const got = await new Promise<BusyClientOutput>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`busy client exited with ${code}`)));
    });
    for (const us of got.connectUs) stats.opened(us);
    for (let i = 0; i < got.closed; i++) stats.closed();
    for (const r of got.requests) {
      stats.c.sent++;
      if (r.reused) stats.c.reusedRequests++;
      if (r.ok) {
        stats.response(r.status ?? 0, r.ms * 1000);
        continue;
      }
      if (r.reused && r.code === 'ECONNRESET') out.resets++;
      if (r.retry) {
        out.retries++;
        if (r.retry.ok) stats.response(r.retry.status ?? 0, r.retry.ms * 1000);
        else stats.failed({ code: r.retry.code });
        continue;
      }
      stats.failed({ code: r.code });
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
  return out;
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
  const stats = ctx.stats;
  const probe = () =>
    new Promise<number>((resolve, reject) => {
      const startedAt = performance.now();
      // A probe is a connection like any other: the kernel counts its SYN, so does the lab.
      stats.c.sent++;
      const req = http.get({ host: ctx.host, port: ctx.port, path: '/', agent }, (res) => {
        res.resume();
        res.once('end', () => {
          stats.response(res.statusCode ?? 0, usSince(startedAt));
          const endedAt = performance.now();
          const socket = req.socket;
          if (!socket) return reject(new Error('no socket'));
          socket.once('close', () => {
            stats.closed();
            resolve(performance.now() - endedAt);
          });
        });
      });
      req.once('socket', (socket: Socket) => {
        const connecting = performance.now();
        socket.once('connect', () => stats.opened(usSince(connecting)));
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
