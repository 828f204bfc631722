import type { Report, RunStarted } from '@kalab/protocol';
import type { RunInfo } from './recording-schema.js';

/** A run the monitor knows of: what a recording says about it, plus its source and report. */
export interface RunState extends RunInfo {
  sourceId: string;
  report?: Report;
}

export interface RunTableHooks {
  started: (run: RunState) => void;
  ended: (run: RunState) => void;
}

/** What a run-started (or a tick, a report, a refusal of an unknown run) says about a run. */
export type RunFacts = Partial<Pick<RunStarted, 'target' | 'engine' | 'scenario' | 'config'>> & { runId: string };

/**
 * The runs the monitor remembers (bounded: the oldest finished ones are forgotten first),
 * their outcome, and which one is worth showing.
 */
export class RunTable {
  readonly runs = new Map<string, RunState>();

  constructor(
    private readonly maxRuns: number,
    private readonly now: () => number,
    private readonly hooks: RunTableHooks,
  ) {}

  get(id: string): RunState | undefined {
    return this.runs.get(id);
  }

  /** The run most worth showing: the newest running one, else the newest. */
  current(): RunState | undefined {
    let newest: RunState | undefined;
    let running: RunState | undefined;
    for (const r of this.runs.values()) {
      if (!newest || r.startedAt >= newest.startedAt) newest = r;
      if (r.running && (!running || r.startedAt >= running.startedAt)) running = r;
    }
    return running ?? newest;
  }

  /** Records a run (or what more is now known of one already recorded). */
  begin(source: { id: string; name: string; host: string }, m: RunFacts): RunState {
    const existing = this.runs.get(m.runId);
    if (existing) {
      copyFacts(existing, m);
      return existing;
    }
    if (this.runs.size >= this.maxRuns) {
      for (const [id, r] of this.runs) {
        if (!r.running) {
          this.runs.delete(id);
          break;
        }
      }
      if (this.runs.size >= this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
    }
    const run: RunState = {
      id: m.runId,
      sourceId: source.id,
      source: { name: source.name, host: source.host },
      startedAt: this.now(),
      running: true,
    };
    copyFacts(run, m);
    this.runs.set(run.id, run);
    this.hooks.started(run);
    return run;
  }

  end(run: RunState, outcome: RunState['outcome']): void {
    const wasRunning = run.running;
    run.running = false;
    run.outcome = outcome;
    run.endedAt = this.now();
    // A lost run that later reports is ended again with its report (the recorder appends it).
    if (wasRunning || outcome === 'completed') this.hooks.ended(run);
  }

  /** Ends every running run of a source: `lost` when it died, `completed` when it said goodbye (an observer has no report). */
  endRunsOf(sourceId: string, outcome: 'lost' | 'completed' = 'lost'): void {
    for (const run of this.runs.values()) if (run.sourceId === sourceId && run.running) this.end(run, outcome);
  }
}

function copyFacts(run: RunState, m: RunFacts): void {
  if (m.target !== undefined) run.target = m.target;
  if (m.engine !== undefined) run.engine = m.engine;
  if (m.scenario !== undefined) run.scenario = m.scenario;
  if (m.config !== undefined) run.config = m.config;
}
