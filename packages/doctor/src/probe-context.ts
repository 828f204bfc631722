import http2 from 'node:http2';
import { UnreachableError } from '@kalab/core';
import { DOCTOR_DEFAULTS } from './defaults.js';
import { ProbeConnection, type ProbeTarget } from './probe-connection.js';

/**
 * The budget and the connection count shared by every phase of one probe:
 * one deadline (an AbortSignal that fires at it) and a ledger of open connections
 * so the probe never holds more than a handful against the target.
 */
export class ProbeContext {
  readonly startedAt = performance.now();
  readonly deadline: number;
  readonly signal: AbortSignal;
  open = 0;
  maxOpen = 0;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly live = new Set<{ destroy(): void }>();

  constructor(
    readonly target: ProbeTarget,
    readonly budgetMs: number,
    parent?: AbortSignal,
  ) {
    // Keep a sliver of the budget for tearing down and reporting.
    const reserve = Math.min(500, budgetMs * 0.05);
    this.deadline = this.startedAt + budgetMs - reserve;
    this.timer = setTimeout(() => this.controller.abort(), budgetMs - reserve);
    this.signal = parent ? AbortSignal.any([parent, this.controller.signal]) : this.controller.signal;
  }

  /** Milliseconds until the deadline, never negative. */
  remaining(): number {
    return Math.max(0, this.deadline - performance.now());
  }

  /** A step's timeout: its own cap, cut to what the budget has left. */
  stepMs(cap: number = DOCTOR_DEFAULTS.stepTimeoutMs): number {
    return Math.min(cap, this.remaining());
  }

  async connect(alpn?: string[], session?: Buffer): Promise<ProbeConnection> {
    this.reserveSlot();
    try {
      const conn = await ProbeConnection.open(this.target, {
        timeoutMs: this.stepMs(),
        signal: this.signal,
        alpn,
        ...(session ? { session } : {}),
      });
      this.live.add(conn);
      void conn.whenClosed.then(() => this.release(conn));
      return conn;
    } catch (err) {
      this.open--;
      throw err;
    }
  }

  /** An HTTP/2 session over cleartext with prior knowledge, counted like any connection. */
  h2cSession(): http2.ClientHttp2Session {
    this.reserveSlot();
    const session = http2.connect(`http://${this.target.authority}`);
    this.live.add(session);
    session.once('close', () => this.release(session));
    return session;
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** Ends the probe: stops the budget timer and closes whatever is still open. */
  dispose(): void {
    clearTimeout(this.timer);
    for (const c of this.live) c.destroy();
    this.live.clear();
  }

  private reserveSlot(): void {
    if (this.open >= DOCTOR_DEFAULTS.maxOpenConnections) {
      // A bug in the phase plan, not a user error: refuse rather than exceed the promise.
      throw new Error(`doctor would open more than ${DOCTOR_DEFAULTS.maxOpenConnections} connections at once`);
    }
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
  }

  private release(c: { destroy(): void }): void {
    if (this.live.delete(c)) this.open--;
  }
}

/**
 * For a probe's `catch`: a connection that could not be made (UnreachableError: refused, reset,
 * timed out, TLS refused) is an answer about the server; anything else (the probe's own
 * connection budget, a bug) is rethrown so that it surfaces instead of reading as "no".
 */
export function onlyConnectionErrors(err: unknown): void {
  if (!(err instanceof UnreachableError)) throw err;
}
