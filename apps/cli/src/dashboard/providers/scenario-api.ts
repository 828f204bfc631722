import { runFanOut, runLoad, runStartedMessage } from '@kalab/loadgen';
import { PROTOCOL_VERSION } from '@kalab/protocol';
import { listScenarios, runScenario } from '@kalab/scenarios';
import { DASHBOARD_DEFAULTS } from '../defaults.js';
import type { LoadApi, ScenarioApi } from './run-controller.js';

/** The picker's scenarios (the article's first, in the catalog's order) and their runner. */
export function scenarioApi(): ScenarioApi {
  return {
    list() {
      const all = listScenarios();
      return [...all.filter((s) => s.origin === 'article'), ...all.filter((s) => s.origin !== 'article')].map((s) => ({
        name: s.name,
        description: `${s.origin === 'article' ? 'article' : 'lab    '}  ${s.title}`,
        detail: `${s.section}. Expected: ${s.expected}.`,
      }));
    },
    run: (name, hooks) => runScenario(name, { signal: hooks.signal, onEvent: hooks.onEvent, onNote: hooks.onNote }),
  };
}

/** `r` without a scenario: a bounded keep-alive load against the embedded server, streamed like an agent's run. */
export function embeddedLoad(target: string, options: { connections?: number; durationMs?: number } = {}): LoadApi {
  const connections = options.connections ?? DASHBOARD_DEFAULTS.load.connections;
  const durationMs = options.durationMs ?? DASHBOARD_DEFAULTS.load.durationMs;
  return {
    describe: `load ${connections} connections × ${durationMs / 1000}s`,
    async run({ signal, onEvent }) {
      const load = runLoad({ target, connections, durationMs, workers: 1, signal });
      load.on('start', (s) => onEvent(runStartedMessage(s)));
      load.on('tick', (t) => onEvent(t));
      load.on('tcp-sample', (t) => onEvent(t));
      const report = await load.result;
      onEvent({ v: PROTOCOL_VERSION, type: 'run-report', runId: load.runId, report });
      return report;
    },
  };
}

/** `a`: the same load split over every idle agent of the monitor (`kalab loadgen URL --via MONITOR --agents all`). */
export function fanOutLoad(
  via: string,
  target: string,
  options: { token?: string; connections?: number; durationMs?: number } = {},
): LoadApi {
  const connections = options.connections ?? DASHBOARD_DEFAULTS.load.connections;
  const durationMs = options.durationMs ?? DASHBOARD_DEFAULTS.load.durationMs;
  return {
    describe: `load ${connections} connections × ${durationMs / 1000}s on all agents`,
    run: ({ signal, onEvent, onNote }) =>
      runFanOut({
        via,
        token: options.token,
        agents: 'all',
        load: { target, connections, durationMs },
        signal,
        onStarted: (m) => onNote(`started on ${m.agents.map((a) => a.name).join(', ')}`),
        onProgress: (m) => onEvent(m.tick),
      }),
  };
}
