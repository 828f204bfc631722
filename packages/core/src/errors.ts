/**
 * Every error the lab raises on purpose has a class and a stable `code`
 * (listed in docs/errors.md). Callers match on `code`, never on the message.
 */
export const ErrorCodes = {
  /** An option or flag is missing, malformed or out of range. CLI exit 2. */
  BAD_OPTION: 'KALAB_ERR_BAD_OPTION',
  /** Input data (a /proc line, a netstat dump, a recorded run) could not be parsed. */
  PARSE: 'KALAB_ERR_PARSE',
  /** A ws message failed schema validation or arrived out of order. */
  PROTOCOL: 'KALAB_ERR_PROTOCOL',
  /** A ws message exceeded the negotiated maximum payload. */
  PAYLOAD_TOO_LARGE: 'KALAB_ERR_PAYLOAD_TOO_LARGE',
  /** A peer presented a missing or wrong token. */
  AUTH: 'KALAB_ERR_AUTH',
  /** A target, monitor or process could not be reached. CLI exit 3. */
  UNREACHABLE: 'KALAB_ERR_UNREACHABLE',
  /** The feature needs something this platform does not offer (e.g. /proc, unshare). */
  UNSUPPORTED: 'KALAB_ERR_UNSUPPORTED',
  /** An agent refused a run that breaks its own caps. */
  CAP_EXCEEDED: 'KALAB_ERR_CAP_EXCEEDED',
  /** A run completed but failed its own checks (a scenario verdict). CLI exit 1. */
  CHECK_FAILED: 'KALAB_ERR_CHECK_FAILED',
  /** A bounded operation ran out of its time budget. */
  TIMEOUT: 'KALAB_ERR_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The exit code the CLI uses for each error code (DESIGN.md: 1 check failed, 2 bad input, 3 unreachable). */
export function exitCodeFor(code: ErrorCode | string | undefined): number {
  switch (code) {
    case ErrorCodes.BAD_OPTION:
    case ErrorCodes.PARSE:
      return 2;
    case ErrorCodes.UNREACHABLE:
    case ErrorCodes.AUTH:
      return 3;
    case ErrorCodes.CHECK_FAILED:
      return 1;
    default:
      return 1;
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
  constructor(message: string, closeCode = 1008, code: ErrorCode = ErrorCodes.PROTOCOL) {
    super(code, message);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

export class UnreachableError extends KalabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.UNREACHABLE, message, options);
    this.name = 'UnreachableError';
  }
}

export class UnsupportedError extends KalabError {
  constructor(message: string) {
    super(ErrorCodes.UNSUPPORTED, message);
    this.name = 'UnsupportedError';
  }
}

export function isKalabError(err: unknown): err is KalabError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('KALAB_ERR_');
}
