/**
 * The sandboxed side of `kalab scenario`: the runner starts this file under
 * `unshare -rn` (or on the host loopback when that is unavailable). It prepares the
 * namespace, runs every phase with server and client in this process, and reports to the
 * parent as JSON lines on stdout — a pipe crosses the namespace boundary, sockets do not.
 *
 *   node child.js NAME [--faithful] [--host]
 */
import { LatencyHistogram, readEphemeralRange } from '@kalab/core';
import type { SourceMessage } from '@kalab/protocol';
import { getScenario, sumObserved } from './catalog/index.js';
import { observedLatency, type PhaseEnv, type PhaseOutcome, runPhase } from './phase-runner.js';
import { prepareNamespace } from './sandbox.js';
import type { ChildLine, SandboxInfo } from './types.js';

function send(line: ChildLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function readTwReuse(): Promise<number | null> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8').catch(() => null);
  return text === null ? null : Number.parseInt(text, 10);
}

export async function childMain(argv: string[]): Promise<number> {
  const name = argv[0] ?? '';
  const faithful = argv.includes('--faithful');
  const onHost = argv.includes('--host');
  const def = getScenario(name);
  if (!onHost) await prepareNamespace(def.sandbox);

  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  const env: PhaseEnv = {
    def,
    faithful,
    inNamespace: !onHost,
    signal: stop.signal,
    emit: (msg: SourceMessage) => send({ t: 'event', msg }),
    note: (text: string) => send({ t: 'note', text }),
  };
  const phases: Record<string, PhaseOutcome['observed']> = {};
  const latency = new LatencyHistogram();
  for (const [index, phase] of def.phases.entries()) {
    if (stop.signal.aborted) break;
    const outcome = await runPhase(phase, index, env);
    phases[phase.name] = outcome.observed;
    latency.merge(outcome.latency);
    send({ t: 'phase', name: phase.name, observed: outcome.observed });
  }
  const parts = Object.values(phases);
  const range = await readEphemeralRange().catch(() => null);
  const observed: PhaseOutcome['observed'] =
    parts.length === 1
      ? { ...parts[0]! }
      : { ...sumObserved(parts), timeWaitPeak: Math.max(0, ...parts.map((p) => p.timeWaitPeak ?? 0)), phases };
  // Over every phase's requests (sumObserved knows only counts).
  const latencyMs = observedLatency(latency);
  if (latencyMs) observed.latencyMs = latencyMs;
  if (range) observed.portRangeSize = range[1] - range[0] + 1;
  const sandbox: SandboxInfo = {
    mode: onHost ? 'host' : 'namespace',
    portRange: range,
    tcpTwReuse: await readTwReuse(),
  };
  send({ t: 'result', observed, sandbox });
  return 0;
}

childMain(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Drivers may leave unref'd timers or worker pools winding down: the result is out, leave.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    const e = err as { code?: unknown; message?: unknown; stack?: unknown };
    send({
      t: 'error',
      code: typeof e?.code === 'string' ? e.code : 'KALAB_ERR_SCENARIO',
      message: String(e?.stack ?? e?.message ?? err),
    });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 50).unref();
  },
);
