import { listScenarios, PROTOCOL_VERSION } from '@kalab/core';
import { runLoad } from '@kalab/loadgen';
import type { LoadApi, RunHooks, ScenarioApi } from './run-controller.js';

type RunScenario = (
  name: string,
  options: { signal?: AbortSignal; onEvent?: (msg: { type: string }) => void; onNote?: (text: string) => void },
) => Promise<unknown>;

// The scenario runner lives in ../../scenario (its own issue); it is looked up at run time so
// the dashboard still opens, and lists the scenarios, in a build that does not have it yet.
const RUNNER_MODULE = '../../scenario/index.js';

/** The picker's scenarios (the article's first, in the catalog's order) and their runner. */
export async function loadScenarioApi(): Promise<ScenarioApi> {
  let run: RunScenario | undefined;
  try {
    run = ((await import(RUNNER_MODULE)) as { runScenario?: RunScenario }).runScenario;
  } catch {
    run = undefined;
  }
  return {
    list() {
      const all = listScenarios();
      return [...all.filter((s) => s.origin === 'article'), ...all.filter((s) => s.origin !== 'article')].map((s) => ({
        name: s.name,
        description: `${s.origin === 'article' ? 'article' : 'lab    '}  ${s.title}`,
      }));
    },
    async run(name, hooks) {
      if (!run) throw new Error('the scenario runner is not in this build; try `kalab scenario` once it is');
      return run(name, { signal: hooks.signal, onEvent: (msg) => hooks.onEvent(msg as Parameters<RunHooks['onEvent']>[0]), onNote: hooks.onNote });
    },
  };
}

/** `r` without a scenario: a bounded keep-alive load against the embedded server, streamed like an agent's run. */
export function embeddedLoad(target: string, options: { connections?: number; durationMs?: number } = {}): LoadApi {
  const connections = options.connections ?? 8;
  const durationMs = options.durationMs ?? 30_000;
  return {
    describe: `load ${connections} connections × ${durationMs / 1000}s`,
    async run({ signal, onEvent }) {
      const load = runLoad({ target, connections, durationMs, workers: 1, signal });
      load.on('start', (s) =>
        onEvent({ v: PROTOCOL_VERSION, type: 'run-started', runId: s.runId, target: s.target, engine: s.engine, config: s.config }),
      );
      load.on('tick', (t) => onEvent(t));
      load.on('tcp-sample', (t) => onEvent(t));
      const report = await load.result;
      onEvent({ v: PROTOCOL_VERSION, type: 'run-report', runId: load.runId, report });
      return report;
    },
  };
}
