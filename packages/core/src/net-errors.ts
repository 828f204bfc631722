/**
 * The codes the lab gives network failures that no system call named: a clean close the
 * client met before its response, its own timer running out, an HTTP/2 stream reset. They
 * look like errno codes on purpose, so a report counts them beside the kernel's own
 * (`ECONNRESET`, `ECONNREFUSED`...) under `errors`; docs/errors.md lists each with what is
 * seen on the wire. This is the one list: code outside it never invents a code.
 */
export const NetErrorCodes = {
  /**
   * The peer closed the connection cleanly (FIN: a read returned end-of-file, or it announced
   * `Connection: close`) before the response was complete. Not a reset: no RST was received.
   */
  PEER_CLOSED: 'EPEERCLOSED',
  /**
   * The lab's own timer ran out (`--timeout`, a connect timeout): no complete response (or no
   * connection) in time. The kernel's own code for the same thing, so both count together.
   */
  TIMED_OUT: 'ETIMEDOUT',
} as const;

/** `H2_<RFC 9113 error name>`: an HTTP/2 stream the server reset (RST_STREAM) or refused (GOAWAY) alone. */
export type H2StreamCode = `H2_${string}`;

export type NetErrorCode = (typeof NetErrorCodes)[keyof typeof NetErrorCodes] | H2StreamCode;

/**
 * A network failure the lab detected itself, with a code from NetErrorCodes (or an
 * `H2_` stream code). Data, not a bug: a load run counts it by `code` and goes on.
 */
export class NetError extends Error {
  readonly code: NetErrorCode;
  constructor(code: NetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetError';
    this.code = code;
  }
}

/** The peer's FIN (or its `Connection: close`) came before the response: EPEERCLOSED. */
export function peerClosedError(message: string, cause?: unknown): NetError {
  return new NetError(NetErrorCodes.PEER_CLOSED, message, cause === undefined ? undefined : { cause });
}

/** The lab's own timer ran out: ETIMEDOUT, counted with the kernel's. */
export function timedOutError(message: string): NetError {
  return new NetError(NetErrorCodes.TIMED_OUT, message);
}

/** What a socket saw of its end: the fields of a node:net socket this module reads. */
interface EndSeen {
  readonly readableEnded?: boolean;
}

/**
 * node:http fails a request whose connection ended before its response with "socket hang up"
 * and code ECONNRESET, whether the server sent a FIN or nothing was received at all; a real
 * RST comes as the socket's own read error (`read ECONNRESET`) and never reaches the end of the
 * stream. This tells them apart by what the socket saw: its end (a FIN) makes the failure
 * EPEERCLOSED; any other error is returned as it is.
 */
export function nodeHttpFailure(err: Error, socket: EndSeen | null | undefined): Error {
  if ((err as { code?: unknown }).code === 'ECONNRESET' && socket?.readableEnded === true)
    return peerClosedError('the server closed the connection (FIN) before the response', err);
  return err;
}
