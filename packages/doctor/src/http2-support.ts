import { DOCTOR_DEFAULTS } from './defaults.js';
import { onlyConnectionErrors, type ProbeContext } from './probe-context.js';

export interface Http2Observation {
  /** Prior-knowledge HTTP/2 over cleartext (http:// only; null on https). */
  h2c: boolean | null;
  /** Protocol the server picked from ['h2', 'http/1.1'] (https only; null on http or when none). */
  alpn: string | null;
}

/** HTTP/2: ALPN on https, prior-knowledge h2c on http. Failures mean "no", never an error. */
export async function checkHttp2(ctx: ProbeContext): Promise<Http2Observation> {
  if (ctx.target.tls) {
    try {
      const conn = await ctx.connect(['h2', 'http/1.1']);
      const alpn = conn.alpn;
      conn.destroy();
      await conn.whenClosed;
      return { h2c: null, alpn };
    } catch (err) {
      onlyConnectionErrors(err);
      return { h2c: null, alpn: null };
    }
  }
  return { h2c: await checkH2c(ctx), alpn: null };
}

/** True once the server answers the h2 preface with its SETTINGS frame. */
function checkH2c(ctx: ProbeContext): Promise<boolean> {
  return new Promise((resolve) => {
    const session = ctx.h2cSession();
    let result: boolean | undefined;
    const finish = (value: boolean) => {
      if (result !== undefined) return;
      result = value;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      session.destroy();
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), ctx.stepMs(DOCTOR_DEFAULTS.http2TimeoutMs));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    session.once('remoteSettings', () => finish(true));
    session.on('error', () => finish(false));
    // Resolve only once the session is gone, so its slot is free for the next phase.
    session.once('close', () => {
      finish(false);
      resolve(result!);
    });
  });
}
