import { ParseError, readBounded } from '@kalab/core';
import type { z } from 'zod';
import { RECORDING_SCHEMA_ID, type RecordingLine, RecordingLineSchema } from './recording-schema.js';

type Line<K extends RecordingLine['kind']> = Extract<RecordingLine, { kind: K }>;

export interface Recording {
  header: Line<'run'>;
  ticks: Line<'tick'>[];
  /** Null when the monitor stopped (or crashed) before the run ended. */
  summary: Line<'summary'> | null;
}

const KINDS = new Set(['run', 'tick', 'summary']);

/** `run.startedAt: expected number, got string` (and how many more problems the line has). */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'does not match the schema';
  const where = first.path.length ? first.path.map(String).join('.') : 'line';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${where}: ${first.message}${more}`;
}

/** One line, checked against the recording's schema; a ParseError names the line and what is wrong. */
function parseLine(raw: string, at: string, first: boolean): RecordingLine {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ParseError(`${at}: not a JSON line`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ParseError(`${at}: not a recording line (a JSON object with a "kind")`);
  const kind = (json as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !KINDS.has(kind))
    throw new ParseError(`${at}: unknown line kind ${JSON.stringify(kind) ?? 'undefined'} (run, tick or summary)`);
  if (first && kind !== 'run')
    throw new ParseError(`${at}: no "run" header line before this "${kind}" line: not a kalab recording`);
  if (!first && kind === 'run') throw new ParseError(`${at}: a second "run" header line`);
  const schema = (json as { schema?: unknown }).schema;
  if (kind === 'run' && schema !== RECORDING_SCHEMA_ID)
    throw new ParseError(`${at}: schema ${JSON.stringify(schema) ?? 'undefined'} is not ${RECORDING_SCHEMA_ID}`);
  const r = RecordingLineSchema.safeParse(json);
  if (!r.success) throw new ParseError(`${at}: bad "${kind}" line: ${describeIssues(r.error.issues)}`);
  return r.data;
}

/**
 * Parses a recording's text, every line checked against its schema: a "run" header first,
 * then ticks and summaries. A torn last line (a crash mid-write) is ignored; any other bad
 * line is a ParseError naming the file, the line number and what is wrong.
 */
export function parseRecording(text: string, where = 'recording'): Recording {
  const lines = text.split('\n');
  let header: Recording['header'] | undefined;
  const ticks: Recording['ticks'] = [];
  let summary: Recording['summary'] = null;
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const at = `${where}:${i + 1}`;
    let line: RecordingLine;
    try {
      line = parseLine(raw, at, header === undefined);
    } catch (err) {
      // Only the very last line may be cut short, and only if it is not valid JSON; a file whose
      // only line is cut short has no header, and says so about that line rather than "empty".
      if (i === lines.length - 1 && header !== undefined && /not a JSON line$/.test((err as Error).message)) return;
      throw err;
    }
    if (line.kind === 'run') header = line;
    else if (line.kind === 'tick') ticks.push(line);
    else summary = line; // a lost run that reports later gets a second summary: the last one wins
  });
  if (!header) throw new ParseError(`${where}: empty: no "run" header line: not a kalab recording`);
  return { header, ticks, summary };
}

/** The largest file `readRecording` reads (256 MiB), so a device or a runaway file is never read whole. */
export const RECORDING_READ_LIMIT = 256 * 1024 * 1024;

/**
 * Reads and parses a recording. A missing, unreadable or non-regular file (a FIFO, /dev/zero,
 * a directory) or one over RECORDING_READ_LIMIT is a BadOptionError naming `name` (the CLI's
 * argument), never a hang.
 */
export function readRecording(file: string, name = 'recording'): Recording {
  return parseRecording(readBounded(name, file, RECORDING_READ_LIMIT).toString('utf8'), file);
}

const n = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const pad = (s: string, w: number) => (s.length >= w ? s : ' '.repeat(w - s.length) + s);

/** Renders a recorded run as text: what ran, second by second, and how it ended. A pure function. */
export function formatRecording(rec: Recording, opts: { maxRows?: number } = {}): string {
  const out: string[] = [];
  const run = rec.summary?.run ?? rec.header.run;
  out.push(`run ${run.id}${run.scenario ? ` (scenario ${run.scenario})` : ''}`);
  if (run.target) out.push(`  target   ${run.target}${run.engine ? `  engine ${run.engine}` : ''}`);
  out.push(`  source   ${run.source.name} on ${run.source.host}`);
  out.push(
    `  started  ${new Date(run.startedAt).toISOString()}  (monitor ${rec.header.monitor.host}, kalab ${rec.header.monitor.version})`,
  );
  const outcome = rec.summary
    ? (rec.summary.run.outcome ?? 'ended')
    : 'incomplete: the recording stops before the run ended';
  const dur = rec.summary ? ` after ${n((rec.summary.at - run.startedAt) / 1000, 1)} s` : '';
  out.push(`  outcome  ${outcome}${dur}`);
  if (rec.summary?.run.refused)
    out.push(`  refused  ${rec.summary.run.refused.code}: ${rec.summary.run.refused.message}`);

  // Per-second table: time, rps, new conns/s, open, TIME_WAIT per host.
  const hosts = new Set<string>();
  for (const t of rec.ticks) for (const h of Object.keys(t.hosts)) hosts.add(h);
  const hostList = [...hosts].slice(0, 4);
  out.push('');
  out.push(['    t(s)', '     rps', ' conn/s', ' requests', ...hostList.map((h) => ` TW@${h.slice(0, 14)}`)].join(''));
  const max = opts.maxRows ?? 60;
  const step = Math.max(1, Math.ceil(rec.ticks.length / max));
  rec.ticks.forEach((t, i) => {
    if (i % step !== 0 && i !== rec.ticks.length - 1) return;
    const cells = [
      pad(n(t.elapsedMs / 1000, 1), 8),
      pad(n(t.merged.rps), 8),
      pad(n(t.merged.newConnPerSec), 7),
      pad(n(t.merged.requests), 9),
    ];
    for (const h of hostList) cells.push(pad(n(t.hosts[h]?.states['TIME_WAIT'] ?? 0), 4 + Math.min(h.length, 14)));
    out.push(cells.join(''));
  });
  if (rec.ticks.length === 0) out.push('    (no ticks recorded)');

  const report = rec.summary?.report;
  out.push('');
  if (report) {
    const r = report;
    out.push(
      `requests     ${n(r.requests.sent)} sent, ${n(r.requests.completed)} completed (${n(r.requests.ok)} ok, ${n(r.requests.non2xx)} non-2xx), ${n(r.requests.failed)} failed`,
    );
    out.push(
      `connections  ${n(r.connections.opened)} opened, ${n(r.connections.requestsPerConnection, 2)} requests per connection, max ${n(r.connections.maxOpen)} open`,
    );
    out.push(`throughput   ${n(r.throughput.rps)} req/s over ${n(r.durationMs / 1000, 1)} s`);
    const l = r.latencyMs;
    out.push(
      `latency ms   mean ${n(l.mean, 3)}  p50 ${n(l.p50, 3)}  p90 ${n(l.p90, 3)}  p99 ${n(l.p99, 3)}  p99.9 ${n(l.p999, 3)}  max ${n(l.max, 3)}`,
    );
    const errs = Object.entries(r.errors).filter(([, c]) => c > 0);
    out.push(`errors       ${errs.length ? errs.map(([c, k]) => `${c} ${n(k)}`).join(', ') : 'none'}`);
    if (r.host.timeWaitPeak > 0) out.push(`TIME_WAIT    peak ${n(r.host.timeWaitPeak)} on the client`);
  } else {
    const m = rec.summary?.merged ?? rec.ticks[rec.ticks.length - 1]?.merged;
    if (m) {
      out.push(`requests     ${n(m.requests)} (from the monitor's ticks; no report arrived)`);
      out.push(
        `connections  ${n(m.connectionsOpened)} opened, ${n(m.requestsPerConnection, 2)} requests per connection`,
      );
    }
  }
  const finalHosts = rec.summary?.hosts ?? rec.ticks[rec.ticks.length - 1]?.hosts ?? {};
  for (const [h, s] of Object.entries(finalHosts)) {
    const states = Object.entries(s.states)
      .filter(([, c]) => c > 0)
      .map(([st, c]) => `${st} ${n(c)}`)
      .join(', ');
    out.push(
      `host ${h}: ${states || 'no sockets'}${s.ephemeral ? `; ephemeral ports ${n(s.ephemeral.inUse)} in use of ${n(s.ephemeral.range[1] - s.ephemeral.range[0] + 1)}` : ''}`,
    );
  }
  const findings = rec.summary?.findings ?? [];
  if (findings.length) {
    out.push('');
    out.push('findings');
    for (const f of findings) out.push(`  [${f.severity}] ${f.message}`);
  }
  return out.join('\n') + '\n';
}
