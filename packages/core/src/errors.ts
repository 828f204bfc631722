/**
 * Every error the lab raises on purpose has a class and a stable `code`
 * (listed in docs/errors.md, one class per code). Callers match on `code`,
 * never on the message; the CLI maps codes to exit codes with `exitCodeFor`.
 */
export const ErrorCodes = {
  /** An option or flag is missing, malformed or out of range. CLI exit 2. */
  BAD_OPTION: 'KALAB_ERR_BAD_OPTION',
  /** Input data (a /proc line, a netstat dump, a recorded run) could not be parsed. CLI exit 2. */
  PARSE: 'KALAB_ERR_PARSE',
  /** A ws message failed schema validation or arrived out of order. */
  PROTOCOL: 'KALAB_ERR_PROTOCOL',
  /** An HTTP/1.x response broke the protocol (bad status line, header, chunk framing). */
  HTTP_PARSE: 'KALAB_ERR_HTTP_PARSE',
  /** A peer presented a missing or wrong token. CLI exit 3. */
  AUTH: 'KALAB_ERR_AUTH',
  /** A target, monitor or process could not be reached. CLI exit 3. */
  UNREACHABLE: 'KALAB_ERR_UNREACHABLE',
  /** The feature needs something this platform does not offer (e.g. /proc, unshare). CLI exit 3. */
  UNSUPPORTED: 'KALAB_ERR_UNSUPPORTED',
  /** An agent refused a run that breaks its own caps. CLI exit 1. */
  CAP_EXCEEDED: 'KALAB_ERR_CAP_EXCEEDED',
  /** An agent (or every agent) is busy with another run. CLI exit 3. */
  BUSY: 'KALAB_ERR_BUSY',
  /** A run completed but failed its own checks (a scenario verdict). CLI exit 1. */
  CHECK_FAILED: 'KALAB_ERR_CHECK_FAILED',
  /** A bounded operation ran out of its time budget. CLI exit 1. */
  TIMEOUT: 'KALAB_ERR_TIMEOUT',
  /** The user stopped the operation (Ctrl-C, an AbortSignal). CLI exit 130. */
  ABORTED: 'KALAB_ERR_ABORTED',
  /** An interactive command was started without a terminal. CLI exit 2. */
  NO_TERMINAL: 'KALAB_ERR_NO_TERMINAL',
  /** A bug in the lab itself: an error nobody raised on purpose. CLI exit 70. */
  INTERNAL: 'KALAB_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Exit codes of every command (docs/contracts.md, docs/errors.md). */
export const ExitCodes = {
  OK: 0,
  CHECK_FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  /** sysexits' EX_SOFTWARE: an internal error, never "the run failed its checks". */
  INTERNAL: 70,
  /** 128 + SIGINT, as shells report a command stopped by Ctrl-C. */
  ABORTED: 130,
} as const;

/** The exit code the CLI uses for each error code. */
export function exitCodeFor(code: ErrorCode | string | undefined): number {
  switch (code) {
    case ErrorCodes.BAD_OPTION:
    case ErrorCodes.PARSE:
    case ErrorCodes.NO_TERMINAL:
      return ExitCodes.USAGE;
    case ErrorCodes.UNREACHABLE:
    case ErrorCodes.AUTH:
    case ErrorCodes.BUSY:
    case ErrorCodes.UNSUPPORTED:
    case ErrorCodes.HTTP_PARSE:
    case ErrorCodes.PROTOCOL:
      return ExitCodes.UNREACHABLE;
    case ErrorCodes.CHECK_FAILED:
    case ErrorCodes.CAP_EXCEEDED:
    case ErrorCodes.TIMEOUT:
      return ExitCodes.CHECK_FAILED;
    case ErrorCodes.ABORTED:
      return ExitCodes.ABORTED;
    default:
      return ExitCodes.INTERNAL;
  }
}

export class KalabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KalabError';
    this.code = code;
  }
}

/** Raised at the boundary when an option is invalid. `option` names the flag or field. */
export class BadOptionError extends KalabError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(ErrorCodes.BAD_OPTION, message);
    this.name = 'BadOptionError';
    this.option = option;
  }
}

export class ParseError extends KalabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.PARSE, message, options);
    this.name = 'ParseError';
  }
}

export class ProtocolError extends KalabError {
  /** The ws close status the hub uses for this error (1008 policy violation, 1009 too big). */
  readonly closeCode: number;
  constructor(message: string, closeCode = 1008) {
    super(ErrorCodes.PROTOCOL, message);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

/** An HTTP/1.x response that breaks the protocol. `reason` is a stable sub-code (`BAD_STATUS_LINE`, ...). */
export class HttpParseError extends KalabError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(ErrorCodes.HTTP_PARSE, message);
    this.name = 'HttpParseError';
    this.reason = reason;
  }
}

export class AuthError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.AUTH, message);
    this.name = 'AuthError';
  }
}

export class UnreachableError extends KalabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.UNREACHABLE, message, options);
    this.name = 'UnreachableError';
  }
}

export class UnsupportedError extends KalabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.UNSUPPORTED, message, options);
    this.name = 'UnsupportedError';
  }
}

export class CapExceededError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.CAP_EXCEEDED, message);
    this.name = 'CapExceededError';
  }
}

export class BusyError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.BUSY, message);
    this.name = 'BusyError';
  }
}

export class CheckFailedError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.CHECK_FAILED, message);
    this.name = 'CheckFailedError';
  }
}

export class TimeoutError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.TIMEOUT, message);
    this.name = 'TimeoutError';
  }
}

export class AbortedError extends KalabError {
  constructor(message = 'stopped by the user') {
    super(ErrorCodes.ABORTED, message);
    this.name = 'AbortedError';
  }
}

export class NoTerminalError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.NO_TERMINAL, message);
    this.name = 'NoTerminalError';
  }
}

/** Wraps an error nobody raised on purpose, so the CLI can say it is a bug and how to report it. */
export class InternalError extends KalabError {
  constructor(cause: unknown) {
    super(ErrorCodes.INTERNAL, `internal error: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'InternalError';
  }
}

export function isKalabError(err: unknown): err is KalabError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('KALAB_ERR_');
}
