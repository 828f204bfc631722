import { onlyConnectionErrors, type ProbeContext } from './probe-context.js';

/** What the doctor saw of an https server's TLS (null for http://). */
export interface TlsObservation {
  /** The version negotiated with node's defaults (TLSv1.3, TLSv1.2). */
  version: string | null;
  /**
   * Whether a second connection offering the first one's session resumed it, and by what:
   * a ticket (TLS 1.3 always; TLS 1.2 when the server issued one) or a session ID (TLS 1.2
   * server-side cache). null when it could not be tried (no session given, budget spent).
   */
  resumption: { resumed: boolean; by: 'ticket' | 'session-id' | null } | null;
}

/**
 * TLS version and session resumption: one request on a fresh connection (so the server's
 * session ticket arrives), then a second connection offering that session. Two handshakes,
 * one at a time; failures mean "unknown", never an error.
 */
export async function checkTls(ctx: ProbeContext): Promise<TlsObservation | null> {
  if (!ctx.target.tls) return null;
  let version: string | null = null;
  try {
    const first = await ctx.connect(['http/1.1']);
    version = first.tls?.protocol ?? null;
    await first.request(ctx.stepMs(), ctx.signal);
    const session = first.session;
    first.destroy();
    await first.whenClosed;
    if (session === null || ctx.remaining() <= 0) return { version, resumption: null };
    const second = await ctx.connect(['http/1.1'], session);
    const t = second.tls;
    second.destroy();
    await second.whenClosed;
    if (!t) return { version, resumption: null };
    const by = !t.resumed ? null : t.protocol === 'TLSv1.3' || t.ticket ? 'ticket' : 'session-id';
    return { version, resumption: { resumed: t.resumed, by } };
  } catch (err) {
    onlyConnectionErrors(err);
    return { version, resumption: null };
  }
}
