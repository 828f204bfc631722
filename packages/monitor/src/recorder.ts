import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BadOptionError, LAB_VERSION } from '@kalab/core';
import type { Snapshot } from '@kalab/protocol';
import type { RunState } from './aggregator.js';
import { RECORDING_SCHEMA_ID, type RecordingLine, type RunInfo } from './recording-schema.js';

function runInfo(r: RunState): RunInfo {
  const { report: _report, sourceId: _sourceId, ...info } = r;
  return info;
}

/**
 * Writes each run as JSON lines in `dir`. Every line is appended synchronously when it is
 * produced (once per tick), so a crash or Ctrl-C loses at most the tick in progress.
 */
export class RunRecorder {
  private readonly files = new Map<string, string>();
  private readonly open = new Set<string>();
  /** Write failures (disk full, permissions); recording stops for that run, the monitor goes on. */
  errors = 0;
  lastError: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly monitorHost: string,
    /** What errors about the directory call it (a CLI passes its flag, `--record`). */
    option = 'recordDir',
  ) {
    ensureDir(dir, option);
  }

  /** The file a run is recorded to. */
  fileFor(runId: string): string | undefined {
    return this.files.get(runId);
  }

  get recording(): boolean {
    return this.open.size > 0;
  }

  start(run: RunState): void {
    const stamp = new Date(run.startedAt).toISOString().replace(/[:.]/g, '-');
    const file = join(this.dir, `${stamp}-${run.id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}.jsonl`);
    this.files.set(run.id, file);
    this.open.add(run.id);
    this.write(run.id, {
      kind: 'run',
      schema: RECORDING_SCHEMA_ID,
      at: run.startedAt,
      run: runInfo(run),
      monitor: { host: this.monitorHost, version: LAB_VERSION },
    });
  }

  tick(s: Snapshot, runs: Iterable<RunState>): void {
    for (const run of runs) {
      if (!this.open.has(run.id)) continue;
      const own = s.sources.filter((x) => x.runId === run.id);
      this.write(run.id, {
        kind: 'tick',
        at: s.at,
        elapsedMs: s.at - run.startedAt,
        sources: own.length ? own : s.sources,
        merged: s.merged,
        hosts: s.hosts,
      });
    }
  }

  end(run: RunState, s: Snapshot): void {
    if (!this.files.has(run.id)) return;
    this.open.delete(run.id);
    this.write(run.id, {
      kind: 'summary',
      at: run.endedAt ?? s.at,
      run: runInfo(run),
      report: run.report ?? null,
      merged: s.merged,
      hosts: s.hosts,
      findings: run.report?.findings ?? s.findings,
    });
    if (this.files.size > 1000) this.files.delete(this.files.keys().next().value as string);
  }

  private write(runId: string, line: RecordingLine): void {
    const file = this.files.get(runId);
    if (!file) return;
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch (err) {
      this.errors++;
      this.lastError = err as Error;
      this.open.delete(runId);
    }
  }
}

/**
 * mkdir -p, one level at a time: Node 20's recursive mkdirSync spins forever on some
 * paths (under /proc), and the error must name the option rather than crash the CLI.
 */
function ensureDir(dir: string, option: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    try {
      if (!statSync(p).isDirectory()) throw new BadOptionError(option, `${option}: ${p} is not a directory`);
      break;
    } catch (err) {
      if (err instanceof BadOptionError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) {
        throw new BadOptionError(
          option,
          `${option}: cannot use ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      missing.unshift(p);
      p = dirname(p);
    }
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BadOptionError(
          option,
          `${option}: cannot create ${m}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
  }
}
