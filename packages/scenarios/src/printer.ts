import { OP_SYMBOL, type ScenarioObserved, type ScenarioSetting } from './catalog/index.js';
import type { ScenarioSummary } from './list.js';
import { OPEN_STATES } from './tcp-view.js';
import type { RunObserved, ScenarioResult } from './types.js';

/** Pure functions from results to text, like autocannon's printer: the command only writes what they return. */

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out.join('\n');
}

function settingsTable(settings: ScenarioSetting[], indent: string): string[] {
  const w = [
    Math.max(...settings.map((s) => s.label.length), 7),
    Math.max(...settings.map((s) => s.value.length), 5),
    Math.max(...settings.map((s) => s.go.length), 2),
  ];
  const rows = [`${indent}${pad('setting', w[0]!)}  ${pad('value', w[1]!)}  ${pad('Go', w[2]!)}  Node`];
  for (const s of settings)
    rows.push(`${indent}${pad(s.label, w[0]!)}  ${pad(s.value, w[1]!)}  ${pad(s.go, w[2]!)}  ${s.node}`);
  return rows;
}

const STATE_ORDER = [...OPEN_STATES, 'TIME_WAIT', 'CLOSE', 'LISTEN'];

function netstatView(o: ScenarioObserved, indent: string): string[] {
  const rows: string[] = [];
  const listed = o.sockets ?? [];
  if (listed.length > 0) {
    const w = Math.max(...listed.map((s) => s.local.length), 15);
    for (const s of listed) rows.push(`${indent}tcp  ${pad(s.local, w)}  ${pad(s.remote, w)}  ${s.state}`);
    const total = [...Object.entries(o.states.client), ...Object.entries(o.states.server)].reduce(
      (n, [st, k]) => (st === 'LISTEN' ? n : n + k),
      0,
    );
    if (total > listed.length) rows.push(`${indent}... ${total - listed.length} more`);
    rows.push('');
  }
  const states = STATE_ORDER.filter(
    (st) => (o.states.client[st] ?? 0) > 0 || (o.states.server[st] ?? 0) > 0 || st === 'TIME_WAIT',
  );
  rows.push(`${indent}${pad('state', 12)}  ${pad('client side', 11)}  server side`);
  for (const st of states)
    rows.push(`${indent}${pad(st, 12)}  ${pad(String(o.states.client[st] ?? 0), 11)}  ${o.states.server[st] ?? 0}`);
  return rows;
}

function errorsText(errors: Record<string, number>): string {
  const e = Object.entries(errors).filter(([, n]) => n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}

function packetView(o: RunObserved, indent: string, inNamespace: boolean): string[] {
  const rows = [
    `${indent}SYNs sent (ActiveOpens delta): ${o.synSent}${inNamespace ? '' : ' (host-wide: includes other traffic)'}   connections the lab counted: ${o.connectionsOpened}`,
    `${indent}requests: ${o.requests.sent} sent, ${o.requests.ok} ok, ${o.requests.failed} failed, ${o.reusedRequests} on a reused connection   errors: ${errorsText(o.errors)}`,
  ];
  const extra: string[] = [];
  if (o.latencyMs)
    extra.push(`latency p50 ${o.latencyMs.p50} ms, p99 ${o.latencyMs.p99} ms, max ${o.latencyMs.max} ms`);
  if (o.resetsOnReusedSocket !== undefined) extra.push(`resets on a reused socket: ${o.resetsOnReusedSocket}`);
  if (o.retries) extra.push(`retried: ${o.retries}`);
  if (o.clientIdleCloses !== undefined) extra.push(`idle connections the client closed first: ${o.clientIdleCloses}`);
  if (o.streams !== undefined) extra.push(`HTTP/2 streams: ${o.streams}`);
  if (o.exhaustedAfterMs !== undefined) {
    extra.push(
      o.exhaustedAfterMs === null
        ? 'no EADDRNOTAVAIL: the range never filled'
        : `TIME_WAIT filled the range in ${o.exhaustedAfterMs} ms (first EADDRNOTAVAIL${o.openedBeforeExhaustion ? `, after ${o.openedBeforeExhaustion} connections` : ''})`,
    );
  }
  if (o.timeWaitPeak)
    extra.push(`TIME_WAIT peak ${o.timeWaitPeak}${o.portRangeSize ? ` of ${o.portRangeSize} ports` : ''}`);
  const closedBy = Object.entries(o.serverClosedBy ?? {});
  if (closedBy.length > 0) extra.push(`server ledger, closed by: ${closedBy.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (extra.length > 0) rows.push(indent + extra.join('   '));
  if (o.tls)
    rows.push(
      `${indent}TLS: ${o.tls.handshakes} handshakes, ${o.tls.resumed} resumed (server ledger: ${o.tls.serverHandshakes}, ${o.tls.serverResumed})` +
        `${o.serverCpuUsPerRequest !== undefined ? `   server CPU per request ${o.serverCpuUsPerRequest} µs` : ''}`,
    );
  return rows;
}

/** The full text of one result: what ran, the netstat view, the packet view, the verdict, why. */
export function formatScenarioResult(r: ScenarioResult): string {
  const inNs = r.sandbox.mode === 'namespace';
  const lines: string[] = [];
  lines.push(`${r.scenario} — ${r.title}`);
  lines.push(`  ${r.origin === 'article' ? 'article' : 'lab'}: ${r.section}`);
  lines.push(`  expected: ${r.expected.result}`);
  const range = r.sandbox.portRange ? `, ports ${r.sandbox.portRange[0]}-${r.sandbox.portRange[1]}` : '';
  const tw = r.sandbox.tcpTwReuse === null ? '' : `, tcp_tw_reuse=${r.sandbox.tcpTwReuse}`;
  lines.push(
    `  sandbox: ${inNs ? 'private network namespace (unshare -rn)' : 'host loopback'}${range}${tw}${r.faithful ? ", the article's 1 s gaps" : ''}`,
  );
  if (r.sandbox.warning) lines.push(`  warning: ${r.sandbox.warning}`);
  lines.push('', 'What was run');
  for (const p of r.settings.phases) {
    lines.push(`  ${r.settings.phases.length > 1 ? `phase ${p.name}: ` : ''}${p.title}`);
    lines.push(...settingsTable(p.settings, '    '));
  }
  if (r.settings.sandbox.length > 0) lines.push('  sandbox', ...settingsTable(r.settings.sandbox, '    '));
  const phases = r.observed.phases ? Object.entries(r.observed.phases) : [['', r.observed] as [string, RunObserved]];
  lines.push('', 'Netstat view (TCP states after the run, by side of the server port)');
  for (const [name, o] of phases) {
    if (name) lines.push(`  phase ${name}`);
    lines.push(...netstatView(o, name ? '    ' : '  '));
  }
  lines.push('', "Packet view (the namespace kernel's counters)");
  for (const [name, o] of phases) {
    if (name) lines.push(`  phase ${name}`);
    lines.push(...packetView(o, name ? '    ' : '  ', inNs));
  }
  lines.push(
    '',
    `Verdict: ${r.pass ? 'PASS — matches the expected result' : 'FAIL — does not match the expected result'}`,
  );
  for (const c of r.checks) {
    const mark = c.skipped ? '-' : c.pass ? '✓' : '✗';
    const want = c.expectedFrom ? `${c.expectedFrom} (${c.expected})` : String(c.expected);
    lines.push(
      `  ${mark} ${c.metric} ${OP_SYMBOL[c.op]} ${want}: observed ${c.actual ?? 'nothing'}${c.skipped ? ' (skipped: needs a namespace)' : ''} — ${c.says}`,
    );
  }
  lines.push('', 'Why', wrap(r.explanation, 96, '  '));
  return `${lines.join('\n')}\n`;
}

/** One line per scenario for `kalab scenario --list`. */
export function formatScenarioList(defs: readonly ScenarioSummary[]): string {
  const w = Math.max(...defs.map((d) => d.name.length));
  const rows = defs.map(
    (d) =>
      `  ${pad(d.name, w)}  ${pad(d.origin, 7)}  ${d.title}\n  ${' '.repeat(w)}  ${' '.repeat(7)}  expected: ${d.expected}`,
  );
  return `Scenarios (kalab scenario NAME, or --all):\n${rows.join('\n')}\n`;
}

/** The closing table of `--all`. */
export function formatScenarioSummary(results: readonly ScenarioResult[]): string {
  const w = Math.max(...results.map((r) => r.scenario.length));
  const rows = results.map(
    (r) =>
      `  ${r.pass ? 'PASS' : 'FAIL'}  ${pad(r.scenario, w)}  ${pad(String(r.observed.connectionsOpened), 5)} conn  ${pad(String(r.observed.synSent), 5)} SYN  TIME_WAIT ${r.observed.timeWait.client}/${r.observed.timeWait.server} (client/server)  ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  const passed = results.filter((r) => r.pass).length;
  const total = results.reduce((s, r) => s + r.durationMs, 0);
  return `Summary: ${passed}/${results.length} scenarios match the expected result in ${(total / 1000).toFixed(1)} s\n${rows.join('\n')}\n`;
}
