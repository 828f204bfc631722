import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AbortedError, type ErrorCode, ErrorCodes, KalabError, TimeoutError, UnsupportedError } from '@kalab/core';
import { SourceMessageSchema } from '@kalab/protocol';
import {
  describePhase,
  describeSandbox,
  expectedOf,
  getScenario,
  judgeScenario,
  type ScenarioDefinition,
} from './catalog/index.js';
import { namespaceSupport } from './sandbox.js';
import type { ChildLine, RunScenarioOptions, SandboxInfo, ScenarioResult } from './types.js';

/**
 * The sandboxed child, a file of this package spawned by path. src/ and dist/ sit at the same
 * depth, so this is dist/child.js both from the built runner and from its sources under vitest.
 */
export const CHILD_URL = new URL('../dist/child.js', import.meta.url);

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

/** Start-up, settling and teardown on top of the phases' own bounds. */
const OVERHEAD_MS = 15_000;

/** The bound of a whole scenario: the sum of its phases' bounds plus overhead. */
export function scenarioBoundMs(def: ScenarioDefinition, faithful = false): number {
  const phases = def.phases.reduce(
    (sum, p) => sum + p.timeoutMs + (faithful ? p.client.requests * (p.client.faithfulGapMs ?? 0) : 0),
    0,
  );
  return phases + OVERHEAD_MS;
}

/**
 * Runs one scenario in its own network namespace (`unshare -rn`) and judges the result
 * against the article's. Where no namespace can be had, it runs on the host loopback with
 * a warning — except scenarios that need one (port-exhaustion), which are refused with
 * UnsupportedError rather than exhaust the host's ports.
 */
export async function runScenario(name: string, options: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const def = getScenario(name);
  const faithful = options.faithful ?? false;
  const want = options.sandbox ?? (process.env['KALAB_SCENARIO_SANDBOX'] === 'host' ? 'host' : 'auto');
  const support = want === 'host' ? { ok: false, why: 'asked to run on the host loopback' } : namespaceSupport();
  let warning: string | undefined;
  if (!support.ok) {
    if (def.sandbox.namespace === 'required' || want === 'namespace') {
      throw new UnsupportedError(
        `scenario ${name} needs a private network namespace (unshare -rn) and will not run on the host: ${support.why}`,
      );
    }
    warning = `no private network namespace (${support.why}): running on the host loopback; kernel counters include other traffic, so those checks are skipped`;
    options.onNote?.(warning);
  }

  const childArgs = [
    fileURLToPath(CHILD_URL),
    name,
    ...(faithful ? ['--faithful'] : []),
    ...(support.ok ? [] : ['--host']),
  ];
  const [cmd, args] = support.ok ? ['unshare', ['-rn', process.execPath, ...childArgs]] : [process.execPath, childArgs];
  const startedAt = performance.now();
  const { observed, sandbox } = await runChild(cmd, args as string[], scenarioBoundMs(def, faithful), options);
  if (warning) sandbox.warning = warning;
  const verdict = judgeScenario(def, observed, { inNamespace: sandbox.mode === 'namespace' });
  return {
    scenario: def.name,
    title: def.title,
    origin: def.origin,
    section: def.section,
    expected: expectedOf(def),
    observed,
    pass: verdict.pass,
    checks: verdict.checks,
    settings: {
      phases: def.phases.map((p) => ({ name: p.name, title: p.title, settings: describePhase(p, { faithful }) })),
      sandbox: describeSandbox(def),
    },
    sandbox,
    faithful,
    explanation: def.explanation,
    durationMs: Math.round(performance.now() - startedAt),
  };
}

function runChild(
  cmd: string,
  args: string[],
  boundMs: number,
  options: RunScenarioOptions,
): Promise<{ observed: ScenarioResult['observed']; sandbox: SandboxInfo }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let result: { observed: ScenarioResult['observed']; sandbox: SandboxInfo } | null = null;
    let failure: Error | null = null;
    let stderr = '';
    const kill = (why: Error) => {
      failure ??= why;
      child.kill('SIGTERM');
      // A child that ignores SIGTERM past its grace is killed; the namespace dies with it.
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    };
    const timer = setTimeout(() => kill(new TimeoutError(`scenario ran past its ${boundMs} ms bound`)), boundMs);
    const onAbort = () => kill(new AbortedError('scenario stopped'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: ChildLine;
      try {
        line = JSON.parse(text) as ChildLine;
      } catch {
        return; // not ours (a library's stray output)
      }
      switch (line.t) {
        case 'event': {
          const msg = SourceMessageSchema.safeParse(line.msg);
          if (msg.success) options.onEvent?.(msg.data);
          break;
        }
        case 'note':
          options.onNote?.(line.text);
          break;
        case 'result':
          result = { observed: line.observed, sandbox: line.sandbox };
          break;
        case 'error':
          failure ??= new KalabError(
            KNOWN_CODES.has(line.code) ? (line.code as ErrorCode) : ErrorCodes.UNSUPPORTED,
            line.message.split('\n')[0] ?? 'scenario failed',
          );
          break;
        default:
          break;
      }
    });
    child.on('error', (err) => kill(new UnsupportedError(`cannot start the scenario child (${cmd}): ${err.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (result && !failure) return resolve(result);
      reject(
        failure ??
          new KalabError(
            ErrorCodes.UNSUPPORTED,
            `scenario child exited with ${code} before a result${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
          ),
      );
    });
  });
}
