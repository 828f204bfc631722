import type { SourceMessage } from '@kalab/protocol';
import type { CheckResult, ScenarioObserved, ScenarioSetting } from './catalog/index.js';

/** Where a scenario ran: its own network namespace (exact counts) or the host loopback. */
export interface SandboxInfo {
  mode: 'namespace' | 'host';
  /** ip_local_port_range the run used. */
  portRange: [number, number] | null;
  /** net.ipv4.tcp_tw_reuse the run used (null when unknown). */
  tcpTwReuse: number | null;
  /** Why the run is on the host loopback, when it is. */
  warning?: string;
}

/** Request latency over a run (response complete, or headers when the body is left unread), in ms. */
export interface ObservedLatencyMs {
  p50: number;
  p99: number;
  max: number;
}

/** core's ScenarioObserved plus the lab runner's latency (absent when no request completed); phases carry theirs. */
export type RunObserved = ScenarioObserved & {
  latencyMs?: ObservedLatencyMs;
  phases?: Record<string, ScenarioObserved & { latencyMs?: ObservedLatencyMs }>;
};

/** What `runScenario` resolves with, and what `kalab scenario NAME --json` prints. */
export interface ScenarioResult {
  scenario: string;
  title: string;
  origin: 'article' | 'lab';
  section: string;
  expected: { result: string; checks: Array<{ metric: string; op: string; value: number | string }> };
  observed: RunObserved;
  pass: boolean;
  checks: CheckResult[];
  settings: {
    phases: Array<{ name: string; title: string; settings: ScenarioSetting[] }>;
    sandbox: ScenarioSetting[];
  };
  sandbox: SandboxInfo;
  faithful: boolean;
  explanation: string;
  durationMs: number;
}

/** What `runScenario`'s onEvent receives: core protocol messages relayed from the sandboxed child. */
export type ScenarioEvent = SourceMessage;

export interface RunScenarioOptions {
  /** The article's 1 s gaps instead of the short ones. */
  faithful?: boolean;
  signal?: AbortSignal;
  /** run-started / tick / tcp-sample / run-report messages while the scenario runs (host `sandbox:<name>`). */
  onEvent?: (msg: ScenarioEvent) => void;
  /** Free-text progress and warnings (the CLI prints them to stderr). */
  onNote?: (text: string) => void;
  /** 'auto' (default): a namespace when unshare works, else the host loopback; 'host' forces the host. */
  sandbox?: 'auto' | 'namespace' | 'host';
}

/** One line of the child's stdout (JSON): the pipe is what crosses the namespace boundary. */
export type ChildLine =
  | { t: 'event'; msg: ScenarioEvent }
  | { t: 'note'; text: string }
  | { t: 'phase'; name: string; observed: RunObserved }
  | { t: 'result'; observed: RunObserved; sandbox: SandboxInfo }
  | { t: 'error'; code: string; message: string };
