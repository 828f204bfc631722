import type { ObserveReport } from './report.js';

const pad = (s: string | number, n: number) => String(s).padStart(n);
const padEnd = (s: string | number, n: number) => String(s).padEnd(n);
const orDash = (n: number | null | undefined) => (n === null || n === undefined ? '-' : String(n));

/** Lives listed in the text report; --json lists them all. */
const LIVES_SHOWN = 20;

/** The text report of `kalab observe` (a pure function: report in, text out). */
export function formatObserveReport(r: ObserveReport): string {
  const out: string[] = [];
  const head = r.mode === 'pid' ? `pid ${r.pid} (${r.command})` : `${r.command}  exit ${r.exitCode}`;
  const how = r.tracer === 'ebpf' ? 'traced with eBPF' : `${r.samples} samples every ${r.intervalMs} ms`;
  out.push(`kalab observe: ${r.cgroup ? r.cgroup : head}, ${(r.durationMs / 1000).toFixed(1)} s, ${how}`);
  const c = r.connections;
  out.push(
    `connections  opened ${c.opened}${r.synSent !== null ? ' (SYNs sent)' : ''}  accepted ${c.accepted}  failed ${orDash(c.failed)}  resets sent ${orDash(c.resetsSent)} received ${orDash(c.resetsReceived)}`,
  );
  const sides = (x: NonNullable<ObserveReport['closedFirst']>) =>
    `client ${x.client}, server ${x.server}, both ${x.both}, reset ${x.reset}, still open ${x.open}`;
  if (r.closedFirst) out.push(`first FIN    ${sides(r.closedFirst)}`);
  if (r.server)
    out.push(
      `server side  accepted ${r.server.accepted}; first FIN ${sides(r.server.closedFirst)}; median life ${orDash(r.server.lifeMedianMs)} ms; server FIN after ${orDash(r.server.serverCloseMedianMs)} ms (median)${r.server.requestsPerConnection !== null ? `; ${r.server.requestsPerConnection} requests per connection` : ''}`,
    );
  if (r.namespace)
    out.push(
      `namespace    all its processes: SYNs sent ${r.namespace.activeOpens}, connections accepted ${r.namespace.passiveOpens}`,
    );
  if (r.network?.mode === 'outbound')
    out.push(
      `network      outbound via ${r.network.via}; this machine's loopback at ${r.network.hostAddress} ($KALAB_HOST)`,
    );
  const tw = Object.entries(r.timeWait.byRemote)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(`TIME_WAIT    ${r.timeWait.total}${tw ? ` (${tw})` : ''}`);
  if (r.remotes.length > 0) {
    out.push(
      '',
      `${padEnd('remote', 28)}${pad('opened', 8)}${pad('peak open', 11)}${pad('TIME_WAIT', 11)}${pad('vanished', 10)}`,
    );
    for (const x of r.remotes)
      out.push(
        `${padEnd(x.remote, 28)}${pad(x.opened, 8)}${pad(x.peakOpen, 11)}${pad(x.timeWait, 11)}${pad(x.vanished, 10)}`,
      );
  }
  if (r.timeline.length > 0) {
    out.push('', `${pad('second', 6)}${pad('new', 7)}${pad('open', 7)}${pad('TIME_WAIT', 11)}`);
    for (const e of r.timeline)
      out.push(`${pad(e.second, 6)}${pad(e.newConnections, 7)}${pad(e.open, 7)}${pad(e.timeWait, 11)}`);
  }
  if (r.lives.length > 0) {
    const total = r.lives.length + r.livesDropped;
    out.push(
      '',
      `connections${total > LIVES_SHOWN ? ` (first ${LIVES_SHOWN} of ${total}; --json lists them all)` : ''}:`,
    );
    const extra = (l: ObserveReport['lives'][number]) => {
      const parts: string[] = [];
      if (l.requests !== undefined) parts.push(`${l.requests} req`);
      if (l.closedBy !== undefined) parts.push(`ledger: ${l.closedBy ?? 'open'}`);
      if (l.packets)
        parts.push(`SYN ${l.packets.syn} FIN ${l.packets.fin} RST ${l.packets.rst} HTTP ${l.packets.requests}`);
      return parts.join('  ');
    };
    out.push(
      `  ${padEnd('client', 24)}${padEnd('server', 24)}${pad('first ms', 9)}${pad('last ms', 9)}  ${padEnd('closed first', 13)}${padEnd('TIME_WAIT', 10)}${padEnd('state', 12)}`,
    );
    for (const l of r.lives.slice(0, LIVES_SHOWN))
      out.push(
        `  ${padEnd(l.client, 24)}${padEnd(l.server, 24)}${pad(l.firstSeenMs, 9)}${pad(l.lastSeenMs, 9)}  ${padEnd(l.closedFirst ?? '-', 13)}${padEnd(l.timeWait ?? '-', 10)}${padEnd(l.lastState, 12)}${extra(l)}`,
      );
  }
  if (r.serve) {
    const by = Object.entries(r.serve.closedBy)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(
      '',
      `lab server ${r.serve.address}: ${r.serve.requests} requests on ${r.serve.connections} connections (${r.serve.requestsPerConnection} per connection); closed by: ${by || 'none'}`,
    );
  }
  if (r.capture)
    out.push(
      '',
      `capture ${r.capture.file}: ${r.capture.packets} packets, ${r.capture.connections} connections, SYN ${r.capture.syn}, SYN-ACK ${r.capture.synAck}, FIN ${r.capture.fin}, RST ${r.capture.rst}, HTTP/1.x requests ${r.capture.requests}${r.capture.dropped ? `; ${r.capture.dropped} packets dropped by the kernel` : ''}`,
    );
  if (r.findings.length > 0) {
    out.push('', 'findings:');
    for (const f of r.findings) out.push(`  ${padEnd(f.severity, 6)}${f.message}`);
  }
  out.push('', `limits: ${r.limits}`);
  return `${out.join('\n')}\n`;
}
