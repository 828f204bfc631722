/**
 * The busy client of keepalive-race, a worker thread of its own (loaded by URL): in the
 * sandbox the lab server shares the parent's process, and stalling that event loop would
 * stall the server's idle close too. It sends a request, waits until just before the server
 * closes the idle connection, then holds its event loop busy across the close and sends the
 * next request on the pooled socket: the request is written into a connection the server has
 * already closed, and fails on a reused socket: EPEERCLOSED when the socket reads the server's
 * FIN before any answer, ECONNRESET when the RST that request draws comes first. One that gets no
 * answer within `timeoutMs` fails with ETIMEDOUT instead, so a stalled server is never taken
 * for the race.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { NetErrorCodes, nodeHttpFailure, timedOutError } from '@kalab/core';

export interface BusyClientInput {
  host: string;
  port: number;
  /** When the server's idle close reaches the client, ms after a response (measured by the driver). */
  idleCloseMs: number;
  /** Pairs of requests at most; the loop stops at the first request that meets the close on a reused socket. */
  tries: number;
  /** Retry a request that met the close on a reused socket once, on a connection of its own (GET is idempotent). */
  retry: boolean;
  /** A request unanswered this long fails with ETIMEDOUT. */
  timeoutMs: number;
}

export interface BusyAttempt {
  ok: boolean;
  status?: number;
  /** Code of a failed attempt: EPEERCLOSED or ECONNRESET (the race: FIN or RST), ETIMEDOUT (no answer in time), ... */
  code?: string;
  /** Sent on a pooled connection. */
  reused: boolean;
  ms: number;
}

/** One request: its attempt, and the retry when the attempt met the close on a reused socket. */
export type BusyRequest = BusyAttempt & { retry?: BusyAttempt };

export interface BusyClientOutput {
  requests: BusyRequest[];
  /** Connect time of each connection it opened (µs). */
  connectUs: number[];
  /** Connections closed by the time it answered. */
  closed: number;
}

/** How long the event loop stays busy past the expected close: the server's FIN lands inside it. */
const BUSY_PAST_CLOSE_MS = 30;
/** The first request of a pair waits idle until this long before the expected close, then turns busy. */
const BUSY_BEFORE_CLOSE_MS = 20;

class IdleForeverAgent extends http.Agent {
  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.setTimeout(0);
    return true;
  }
}

export async function busyClient(input: BusyClientInput): Promise<BusyClientOutput> {
  const agent = new IdleForeverAgent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  const connectUs: number[] = [];
  let opened = 0;
  let closed = 0;
  const get = (via: http.Agent | false) =>
    new Promise<BusyAttempt>((resolve) => {
      const t0 = performance.now();
      const req = http.get({ host: input.host, port: input.port, path: '/', agent: via }, (res) => {
        res.resume();
        res.once('end', () =>
          resolve({ ok: true, status: res.statusCode ?? 0, reused: req.reusedSocket, ms: performance.now() - t0 }),
        );
      });
      req.setTimeout(input.timeoutMs, () => req.destroy(timedOutError('no response in time')));
      req.once('socket', (socket: Socket) => {
        if (req.reusedSocket) return;
        opened++;
        const connecting = performance.now();
        socket.once('connect', () => connectUs.push((performance.now() - connecting) * 1000));
        socket.once('close', () => closed++);
      });
      req.once('error', (e: Error) => {
        const err = nodeHttpFailure(e, req.socket) as NodeJS.ErrnoException;
        resolve({ ok: false, code: err.code ?? err.name, reused: req.reusedSocket, ms: performance.now() - t0 });
      });
    });
  // The race: a request on the pooled socket met the server's close (its FIN or the RST it draws).
  const isRace = (r: BusyAttempt) =>
    !r.ok && r.reused && (r.code === 'ECONNRESET' || r.code === NetErrorCodes.PEER_CLOSED);

  const requests: BusyRequest[] = [];
  for (let i = 0; i < input.tries; i++) {
    requests.push(await get(agent));
    const endedAt = performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, input.idleCloseMs - BUSY_BEFORE_CLOSE_MS)));
    while (performance.now() < endedAt + input.idleCloseMs + BUSY_PAST_CLOSE_MS) {
      // Busy: the server's FIN reaches the kernel while this loop holds the event loop.
    }
    const r: BusyRequest = await get(agent);
    if (isRace(r) && input.retry) r.retry = await get(false);
    requests.push(r);
    if (isRace(r)) break;
  }
  agent.destroy();
  const deadline = Date.now() + 1000;
  while (closed < opened && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { requests, connectUs, closed };
}

if (parentPort) {
  const port = parentPort;
  void busyClient(workerData as BusyClientInput).then((out) => port.postMessage(out));
}
