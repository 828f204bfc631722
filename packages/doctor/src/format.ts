import type { CloseReason, DoctorProbe } from './probe.js';
import { refusedStatus } from './recommendations.js';

function yesNo(v: boolean | null): string {
  return v === null ? 'unknown' : v ? 'yes' : 'no';
}

/** Why the first response was the last on its connection, as the table says it. */
const CLOSE_REASONS: Record<CloseReason, string> = {
  'connection-close': 'Connection: close',
  http10: 'HTTP/1.0 without keep-alive',
  'until-close': 'no Content-Length: the body ends at the close',
  upgrade: '101 Switching Protocols',
};

/** The human-readable report of `kalab doctor`: a table, then the recommendations. A pure function. */
export function formatDoctor(probe: DoctorProbe): string {
  const o = probe.observations;
  const rows: Array<[string, string]> = [];
  if (o.first) {
    const conn = o.first.connection ? `, Connection: ${o.first.connection}` : '';
    const why =
      o.first.closeReason && o.first.closeReason !== 'connection-close'
        ? `: ${CLOSE_REASONS[o.first.closeReason]}`
        : '';
    const refused = refusedStatus(probe);
    rows.push([
      'keep-alive',
      refused !== null
        ? `not judged: the server refused the request (HTTP/${o.first.httpVersion} ${refused}${conn})`
        : `${yesNo(probe.keepAlive)} (HTTP/${o.first.httpVersion} ${o.first.statusCode}${conn}${why})`,
    ]);
  } else {
    rows.push(['keep-alive', 'n/a (no HTTP/1.1 answer: the port speaks only HTTP/2)']);
  }
  rows.push(['advertised Keep-Alive', probe.advertisedKeepAlive ?? '(no Keep-Alive header)']);

  let idle: string;
  if (!probe.keepAlive || !o.first) idle = 'n/a';
  else if (o.idle && o.idle.samplesMs.length > 0) {
    const kinds = [...new Set(o.idle.closeKinds)].map((k) => (k === 'fin' ? 'FIN' : 'RST')).join('/');
    idle = `${probe.idleTimeoutMs} ms (${kinds}, ${o.idle.samplesMs.length} connection${o.idle.samplesMs.length > 1 ? 's' : ''}: ${o.idle.samplesMs.map((s) => Math.round(s)).join(', ')} ms)`;
  } else if (o.idle && o.idle.deadAfterMs !== null) {
    idle =
      `silent drop: reuse failed after ${o.idle.deadAfterMs} ms idle` +
      (o.idle.aliveAfterMs !== null ? `, worked after ${o.idle.aliveAfterMs} ms` : '');
  } else {
    idle = `none found within ${((o.idle?.waitedMs ?? 0) / 1000).toFixed(1)} s`;
  }
  rows.push(['idle timeout', idle]);

  const mr = o.maxRequests;
  let max: string;
  if (probe.maxRequestsPerConnection !== null) {
    const how =
      mr?.endedBy === 'connection-close'
        ? 'Connection: close on the last'
        : mr?.endedBy === 'fin'
          ? `then FIN${mr.code ? ` (${mr.code} on the next request)` : ''}`
          : mr?.endedBy === 'reset'
            ? `then RST${mr.code ? ` (${mr.code} on the next request)` : ''}`
            : CLOSE_REASONS[o.first?.closeReason ?? 'connection-close'];
    max = `${probe.maxRequestsPerConnection} (${how})`;
  } else if (mr?.endedBy === 'cap') max = `no limit up to ${mr.served}`;
  else if (mr?.endedBy === 'byte-cap') max = `no limit up to ${mr.served} (stopped after 32 MiB of bodies)`;
  else if (mr) max = `unknown (${mr.served} served, stopped: ${mr.endedBy})`;
  else max = 'unknown';
  rows.push(['max requests/connection', max]);

  const p = o.pipelining;
  rows.push([
    'pipelining',
    p ? `${yesNo(probe.pipelining)} (${p.answered} of ${p.sent} answered)` : yesNo(probe.pipelining),
  ]);
  const h2c = probe.http2.h2c === null ? 'n/a' : yesNo(probe.http2.h2c);
  const alpn = probe.target.startsWith('https:') ? (probe.http2.alpn ?? 'none') : 'n/a';
  rows.push(['HTTP/2', `h2c: ${h2c}, ALPN: ${alpn}`]);
  if (probe.tls) {
    const r = probe.tls.resumption;
    const resumes =
      r === null ? 'unknown' : r.resumed ? `yes (by ${r.by === 'session-id' ? 'session ID' : 'ticket'})` : 'no';
    rows.push([
      'TLS',
      `${probe.tls.version ?? 'unknown version'}, ALPN ${probe.tls.alpn ?? 'none'}, resumes sessions: ${resumes}`,
    ]);
  }
  rows.push([
    'probe',
    `${(o.elapsedMs / 1000).toFixed(1)} s (budget ${(o.budgetMs / 1000).toFixed(0)} s), at most ${o.maxOpenConnections} connection${o.maxOpenConnections === 1 ? '' : 's'} at once`,
  ]);

  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`kalab doctor ${probe.target}`, ''];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
  lines.push('', 'Recommendations');
  for (const r of probe.recommendations) lines.push(`  - ${r}`);
  return `${lines.join('\n')}\n`;
}
