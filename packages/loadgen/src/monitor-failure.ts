import { isKalabError, type KalabError, type MonitorLink, UnreachableError } from '@kalab/core';

/** Why a ws connection to a monitor failed, in words a user can act on (the errno or the HTTP status kept). */
export function monitorFailure(url: string, err: Error | undefined): string {
  if (!err) return 'no answer';
  const code = (err as NodeJS.ErrnoException).code;
  const status = /^Unexpected server response: (\d+)/.exec(err.message)?.[1];
  if (status)
    return `it answered HTTP ${status} instead of a WebSocket upgrade: is ${url} a kalab monitor's ws://HOST:PORT/ws?`;
  if (code === 'EPROTO' || /wrong version number|SSL routines/.test(err.message))
    return 'no TLS there (wss:// to a plain port?): try ws://';
  if (/handshake has timed out|closed before the connection was established/.test(err.message))
    return 'no WebSocket handshake within 5 s: is it a kalab monitor?';
  if (code) return code;
  return err.message.split('\n')[0]!;
}

/**
 * A link used once (a fan-out, --list-agents): its socket errors are kept, not thrown (an
 * EventEmitter 'error' without a listener would crash), and its 'fatal' comes out as one
 * UnreachableError naming the monitor and the cause; a KalabError (a refused token) stays itself.
 */
export function onLinkFailure(link: MonitorLink, url: string, fail: (err: KalabError) => void): void {
  let last: Error | undefined;
  link.on('error', (err: Error) => {
    last = err;
  });
  link.on('fatal', (err: KalabError) => {
    if (isKalabError(err) && !(err instanceof UnreachableError)) fail(err);
    else fail(new UnreachableError(`cannot reach monitor ${url}: ${monitorFailure(url, last)}`, { cause: last }));
  });
}
