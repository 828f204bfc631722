import type { Report } from '@kalab/protocol';

/** What a finished run means for `kalab loadgen`'s exit code (docs/loadgen.md, "Exit codes"). */
export interface RunOutcome {
  /** 0 at least one request succeeded (2xx); 1 none did although connections were made; 3 nothing could connect. */
  code: 0 | 1 | 3;
  /** One line for stderr when the code is not 0. */
  message: string | null;
}

function errorList(errors: Record<string, number>): string {
  const list = Object.entries(errors)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return list === '' ? 'no error code' : list;
}

/**
 * The exit rule: a run in which no request got a 2xx response did not do what was asked.
 * If no connection could be made at all the target was unreachable (3); otherwise the
 * target answered badly or not at all (1: resets, garbage, timeouts, non-2xx statuses,
 * h2c against an HTTP/1.1-only server). A run that sent nothing (stopped before its first
 * request) is not judged.
 */
export function runOutcome(r: Report): RunOutcome {
  if (r.requests.ok > 0 || r.requests.sent === 0) return { code: 0, message: null };
  // No handshake got through the certificate check: the target is there but not trusted (3).
  const refused = r.tls && r.tls.handshakes === 0 ? Object.keys(r.errors).filter(isCertificateError) : [];
  if (refused.length > 0)
    return {
      code: 3,
      message: `${r.target}: the server's certificate was refused (${refused.join(', ')}); --insecure accepts any certificate, --ca FILE trusts the one that signed it`,
    };
  if (r.connections.opened === 0 && r.requests.completed === 0)
    return { code: 3, message: `${r.target} could not be reached (${errorList(r.errors)})` };
  const statuses = r.requests.non2xx > 0 ? `, ${r.requests.non2xx} non-2xx` : '';
  return {
    code: 1,
    message: `no request to ${r.target} succeeded: ${r.requests.failed} failed${statuses} over ${r.connections.opened} connection${r.connections.opened === 1 ? '' : 's'} (${errorList(r.errors)})`,
  };
}

/** OpenSSL's verify codes and node's name check: the certificate, not the connection, failed. */
export function isCertificateError(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}
