import { MonitorLink, PROTOCOL_VERSION } from '@kalab/protocol';
import type { LocalRun } from '../model.js';
import type { ScenarioItem } from '../overlays.js';
import type { DashboardStore } from '../store.js';

/** A protocol message a run emits (run-started, tick, tcp-sample, run-report, ...). */
export type RunEvent = { type: string } & Record<string, unknown>;

export interface RunHooks {
  signal: AbortSignal;
  onEvent: (msg: RunEvent) => void;
  /** A line for the user (a warning such as "no private namespace: running on the host"). */
  onNote: (text: string) => void;
}

/** How the dashboard reaches the scenario runner (@kalab/scenarios) without owning it. */
export interface ScenarioApi {
  list(): ScenarioItem[];
  run(name: string, hooks: RunHooks): Promise<unknown>;
}

/** A free-form load against the embedded server, for `r` when no scenario was picked. */
export interface LoadApi {
  describe: string;
  run(hooks: RunHooks): Promise<unknown>;
}

export interface RunControllerOptions {
  store: DashboardStore;
  /** Where run events are forwarded (as an agent), so the monitor's snapshot shows the run. */
  monitorUrl?: string;
  token?: string;
  scenarios?: ScenarioApi;
  load?: LoadApi;
  /** `a`: the same load split over the monitor's agents (they report to the monitor themselves). */
  fanOut?: LoadApi;
}

/**
 * Starts and stops the runs launched from the dashboard. Each run's protocol messages go to
 * the monitor through one agent link (the views draw them from the next snapshot); the
 * run's own totals and outcome go to the store for the header's run line.
 */
export class RunController {
  private readonly o: RunControllerOptions;
  private link: MonitorLink | undefined;
  private current: { abort: AbortController; done: Promise<void> } | undefined;
  private lastScenario: string | undefined;

  constructor(options: RunControllerOptions) {
    this.o = options;
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  scenarios(): ScenarioItem[] {
    try {
      return this.o.scenarios?.list() ?? [];
    } catch (err) {
      this.o.store.patchStatus({ message: `cannot list scenarios: ${(err as Error).message}` });
      return [];
    }
  }

  /** `s` + Enter: runs the named scenario (stopping a run in progress first). */
  async startScenario(name: string): Promise<void> {
    const api = this.o.scenarios;
    if (!api) {
      this.o.store.patchStatus({ message: 'scenarios are not available in this build' });
      return;
    }
    this.lastScenario = name;
    await this.stop();
    this.launch('scenario', name, (hooks) => api.run(name, hooks));
  }

  /** `r`: stops the run in progress; otherwise runs the last scenario again, or a load. */
  async toggle(): Promise<void> {
    if (this.current) {
      await this.stop();
      return;
    }
    if (this.lastScenario) {
      await this.startScenario(this.lastScenario);
      return;
    }
    const load = this.o.load;
    if (!load) {
      this.o.store.patchStatus({ message: 'press s to pick a scenario first' });
      return;
    }
    this.launch('load', load.describe, (hooks) => load.run(hooks));
  }

  /** `a`: stops the run in progress; otherwise runs the load on every idle agent of the monitor. */
  async toggleFanOut(): Promise<void> {
    if (this.current) {
      await this.stop();
      return;
    }
    const fanOut = this.o.fanOut;
    if (!fanOut) {
      this.o.store.patchStatus({ message: 'a runs on agents from kalab start (its monitor is theirs)' });
      return;
    }
    // The agents report their own runs: forwarding the merged progress would count it twice.
    this.launch('fan-out', fanOut.describe, (hooks) => fanOut.run(hooks), false);
  }

  /** Aborts the run in progress and waits for it to finish (bounded by the run itself). */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.abort.abort();
    await c.done;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.link?.close(500);
  }

  private forward(msg: RunEvent): void {
    if (!this.o.monitorUrl) return;
    if (!this.link) {
      this.link = new MonitorLink({
        url: this.o.monitorUrl,
        token: this.o.token,
        role: 'agent',
        name: 'dashboard-runs',
      });
      // The link reconnects by itself; a monitor that is gone only costs the forwarded events.
      this.link.on('error', () => {});
      this.link.start();
    }
    // The monitor holds a finished run's rate until its history has it: forward as it comes.
    this.link.send(msg.v === undefined ? { ...msg, v: PROTOCOL_VERSION } : msg);
  }

  private launch(
    kind: LocalRun['kind'],
    name: string,
    run: (hooks: RunHooks) => Promise<unknown>,
    forward = true,
  ): void {
    const { store } = this.o;
    const abort = new AbortController();
    const startedAt = Date.now();
    let live: LocalRun = { kind, name, state: 'running', startedAt };
    const update = (patch: Partial<LocalRun>) => {
      live = { ...live, ...patch };
      store.patchStatus({ run: live, message: null });
    };
    update({});
    const onEvent = (msg: RunEvent) => {
      if (forward) this.forward(msg);
      const seen = countsOf(msg);
      if (seen && !abort.signal.aborted) update(seen);
    };
    const onNote = (text: string) => store.patchStatus({ message: `${name}: ${text}` });
    const done = run({ signal: abort.signal, onEvent, onNote })
      .then((result) => {
        update({ state: abort.signal.aborted ? 'stopped' : 'done', endedAt: Date.now(), ...outcomeOf(result, live) });
      })
      .catch((err: Error) => {
        update({
          state: abort.signal.aborted ? 'stopped' : 'failed',
          endedAt: Date.now(),
          summary: err.message.split('\n')[0],
        });
      })
      .finally(() => {
        if (this.current?.abort === abort) this.current = undefined;
      });
    this.current = { abort, done };
  }
}

/** Live totals from a run's tick or final report. */
function countsOf(msg: RunEvent): Partial<LocalRun> | undefined {
  if (msg.type === 'tick') {
    const t = msg.totals as { requests?: number; connectionsOpened?: number } | undefined;
    return { requests: t?.requests, connectionsOpened: t?.connectionsOpened };
  }
  if (msg.type === 'run-report') {
    const r = msg.report as { requests?: { completed?: number }; connections?: { opened?: number } } | undefined;
    return { requests: r?.requests?.completed, connectionsOpened: r?.connections?.opened };
  }
  return undefined;
}

/** The plain-words outcome of a scenario result (`kalab scenario --json`) or a load report. */
function outcomeOf(result: unknown, live: LocalRun): Partial<LocalRun> {
  const r = (result ?? {}) as {
    pass?: boolean;
    explanation?: string;
    checks?: {
      pass?: boolean;
      skipped?: boolean;
      says?: string;
      expected?: number;
      actual?: number | null;
      metric?: string;
    }[];
    observed?: { connectionsOpened?: number; requests?: number | { sent?: number }; errors?: Record<string, number> };
    connections?: { opened?: number };
    requests?: { completed?: number };
    errors?: Record<string, number>;
  };
  const opened = r.observed?.connectionsOpened ?? r.connections?.opened ?? live.connectionsOpened;
  const seen = r.observed?.requests;
  const requests = (typeof seen === 'number' ? seen : seen?.sent) ?? r.requests?.completed ?? live.requests;
  const errors = Object.entries(r.observed?.errors ?? r.errors ?? {}).filter(([, n]) => n > 0);
  const parts: string[] = [];
  if (opened !== undefined) parts.push(`${opened} connections opened`);
  if (requests !== undefined) parts.push(`${requests} requests`);
  if (errors.length) parts.push(`errors ${errors.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  if (r.pass !== undefined) parts.push(r.pass ? 'same result as the article' : "NOT the article's result");
  const failed = (r.checks ?? []).filter((c) => c.pass === false && !c.skipped);
  const explanation = [
    ...failed.map((c) => `${c.says ?? c.metric}: expected ${c.expected}, observed ${c.actual ?? 'nothing'}`),
    ...(r.explanation ? [r.explanation] : []),
  ];
  return {
    connectionsOpened: opened,
    requests,
    summary: parts.join(' · ') || 'finished',
    ...(explanation.length ? { explanation } : {}),
  };
}
