import type { Report, Tick } from '@kalab/protocol';

const n = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const ms = (v: number) => `${n(v, 2)} ms`;

/** The final report as text: a pure function from report to lines (autocannon's printer split). */
export function formatReport(
  r: Report & { firstErrors?: Record<string, { atMs: number; afterConnections: number }> },
): string {
  const lines: string[] = [];
  const c = r.config as Record<string, unknown>;
  const bound = [
    c['requests'] != null ? `${n(c['requests'] as number)} requests` : null,
    c['durationMs'] != null ? `${n((c['durationMs'] as number) / 1000, 1)} s` : null,
  ]
    .filter(Boolean)
    .join(' or ');
  lines.push(`kalab loadgen ${r.target}  engine ${r.engine} (${String(c['transport'] ?? r.engine)})`);
  lines.push(
    `  ${n(c['connections'] as number)} connections, ${n(c['workers'] as number)} workers, keep-alive ${c['keepAlive'] ? 'on' : 'off'}` +
      `${c['consumeBody'] === false ? ', bodies never read' : ''}${c['rate'] != null ? `, open model ${n(c['rate'] as number)} req/s` : ''}, bound ${bound}` +
      `${r.stoppedEarly ? `, stopped early (${r.stoppedEarly})` : ''}`,
  );
  lines.push('');
  lines.push(
    `requests     ${n(r.requests.completed)} completed in ${n(r.durationMs / 1000, 2)} s = ${n(r.throughput.rps, 1)} req/s  (ok ${n(r.requests.ok)}, non-2xx ${n(r.requests.non2xx)}, failed ${n(r.requests.failed)}, sent ${n(r.requests.sent)})`,
  );
  lines.push(
    `connections  ${n(r.connections.opened)} opened, ${n(r.connections.requestsPerConnection, 2)} requests per connection, ${n(r.connections.reusedRequests)} requests on reused connections, at most ${n(r.connections.maxOpen)} open`,
  );
  const l = r.latencyMs;
  lines.push(
    `latency      p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}  mean ${ms(l.mean)}`,
  );
  const k = r.connectMs;
  lines.push(`connect      p50 ${ms(k.p50)}  p99 ${ms(k.p99)}  max ${ms(k.max)}  mean ${ms(k.mean)}`);
  if (r.tls) {
    const t = r.tls;
    const secs = r.durationMs / 1000;
    const pct = t.handshakes > 0 ? (t.resumed / t.handshakes) * 100 : 0;
    const by = (rec: Record<string, number>) =>
      Object.entries(rec)
        .map(([k2, v]) => `${k2} ${n(v)}`)
        .join(', ') || 'none';
    const resume =
      t.resumeSessions === undefined
        ? ''
        : `; sessions ${t.resumeSessions ? 'offered for resumption' : 'not resumed'} (${t.resumeSource})`;
    lines.push(
      `tls          ${n(t.handshakes)} handshakes = ${n(secs > 0 ? t.handshakes / secs : 0, 1)} handshakes/s, ${n(t.resumed)} resumed (${n(pct, 1)}%)${resume}`,
    );
    lines.push(
      `             handshake p50 ${ms(t.handshakeMs.p50)}  p99 ${ms(t.handshakeMs.p99)}  max ${ms(t.handshakeMs.max)}  mean ${ms(t.handshakeMs.mean)}; ${by(t.protocols)}; ALPN ${by(t.alpn)}`,
    );
  }
  if (r.h2) {
    const h = r.h2;
    const cap =
      h.maxConcurrentStreams === null ? 'no limit announced' : `the server allows ${n(h.maxConcurrentStreams)}`;
    lines.push(
      `h2           ${n(h.sessions)} sessions x ${n(h.streamsPerSession)} concurrent streams (${cap}), ${n(h.streams)} streams opened`,
    );
  }
  const errs = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  lines.push(`errors       ${errs.length === 0 ? 'none' : errs.map(([code, v]) => `${code} ${n(v)}`).join(', ')}`);
  if (r.firstErrors) {
    const firsts = Object.entries(r.firstErrors).map(([code, f]) => `${code} at ${n(f.atMs / 1000, 2)} s`);
    if (firsts.length > 0) lines.push(`first error  ${firsts.join(', ')}`);
  }
  const h = r.host;
  const range = h.ephemeralRange
    ? `${h.ephemeralRange[0]}-${h.ephemeralRange[1]} (${n(h.ephemeralRange[1] - h.ephemeralRange[0] + 1)} ports)`
    : 'unknown';
  lines.push(
    `this host    TIME_WAIT peak ${n(h.timeWaitPeak)}, ephemeral ports in use peak ${n(h.ephemeralInUsePeak ?? 0)} of range ${range}`,
  );
  if (r.findings.length > 0) {
    lines.push('');
    for (const f of r.findings) lines.push(`${f.severity.padEnd(5)}  ${f.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One progress line per tick (stderr, when it is a terminal); `engine` names the engine that runs. */
export function formatProgress(t: Tick, engine?: string): string {
  const errors = Object.values(t.errors).reduce((a, b) => a + b, 0);
  const hs = t.totals.tlsHandshakes;
  const tls =
    hs === undefined
      ? ''
      : `  ${n(t.rates.handshakesPerSec ?? 0).padStart(8)} handshakes/s  ${n(hs > 0 ? ((t.totals.tlsResumed ?? 0) / hs) * 100 : 0, 1)}% resumed`;
  return `${engine ? `${engine.padEnd(6)} ` : ''}${n(t.elapsedMs / 1000, 0).padStart(4)} s  ${n(t.rates.rps).padStart(9)} req/s  ${n(t.openConnections).padStart(6)} open  ${n(t.rates.newConnPerSec).padStart(8)} new conn/s${tls}  ${n(errors)} errors`;
}
