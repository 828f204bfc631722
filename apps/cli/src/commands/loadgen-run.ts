import { BadOptionError, ExitCodes, parseName, parseUrl, type Tick } from '@kalab/core';
import {
  agentCapsFromFlags,
  formatProgress,
  formatReport,
  optionsFromFlags,
  runAgent,
  runLoad,
  runOutcome,
  streamToMonitor,
} from '@kalab/loadgen';
import { htmlReportFromRun, renderHtmlReport } from '@kalab/monitor';
import { writeHtml } from './html-file.js';
import type { LoadgenCommandFlags } from './loadgen.js';
import { runFanOutMode, wantsFanOut } from './loadgen-fan-out.js';
import { tokenNeedsMonitor } from './token-option.js';

/** `kalab loadgen`: a local run, an agent (--agent) or a fan-out over a monitor's agents (--via). */
export function run(url: string | undefined, flags: LoadgenCommandFlags): Promise<number> {
  if (flags.html !== undefined && (flags.agent || wantsFanOut(flags)))
    throw new BadOptionError('--html', '--html goes with a local run, not with --agent or --via');
  return flags.agent
    ? runAgentMode(url, flags)
    : wantsFanOut(flags)
      ? runFanOutMode(url, flags)
      : runLoadgen(url, flags);
}

async function runLoadgen(url: string | undefined, flags: LoadgenCommandFlags): Promise<number> {
  const options = optionsFromFlags(url, flags);
  const monitorUrl =
    flags.monitor === undefined ? undefined : parseUrl('--monitor', flags.monitor, ['ws:', 'wss:']).href;
  tokenNeedsMonitor(flags, monitorUrl);
  const name = flags.name === undefined ? undefined : parseName('--name', flags.name);
  const run = runLoad(options);
  const onSigint = () => run.stop('signal');
  process.once('SIGINT', onSigint);
  if (process.stderr.isTTY) run.on('tick', (t) => process.stderr.write(`${formatProgress(t, run.engine)}\n`));
  // The HTML file's charts: one point per tick, rates only (a 1-hour run holds 3600).
  const ticks: Pick<Tick, 'at' | 'rates'>[] = [];
  if (flags.html !== undefined) run.on('tick', (t) => ticks.push({ at: t.at, rates: t.rates }));
  // A monitor that cannot be reached or refuses the token is said at once; the run goes on.
  let lastProblem = '';
  const streamed = monitorUrl
    ? streamToMonitor(run, {
        url: monitorUrl,
        token: flags.token,
        name,
        onError: (err, fatal) => {
          const what = (err as NodeJS.ErrnoException).code ?? err.message;
          if (what === lastProblem) return;
          lastProblem = what;
          process.stderr.write(
            `kalab: monitor ${monitorUrl}: ${fatal ? err.message : `cannot connect (${what})`}; the run goes on${fatal ? ' without it' : ', retrying'}\n`,
          );
        },
      })
    : null;
  try {
    const report = await run.result;
    const delivered = await streamed;
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    if (flags.html !== undefined) writeHtml('--html', flags.html, renderHtmlReport(htmlReportFromRun(report, ticks)));
    const outcome = runOutcome(report);
    if (outcome.message) process.stderr.write(`kalab: ${outcome.message}\n`);
    if (delivered === false) {
      process.stderr.write(`kalab: the report did not reach the monitor ${monitorUrl}\n`);
      return ExitCodes.UNREACHABLE;
    }
    return outcome.code;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `kalab loadgen --agent`: wait for run-start from the monitor, enforce this agent's caps, print each report locally. */
async function runAgentMode(url: string | undefined, flags: LoadgenCommandFlags): Promise<number> {
  if (url !== undefined) throw new BadOptionError('--agent', '--agent takes no URL: the monitor sends the runs');
  if (flags.monitor === undefined) throw new BadOptionError('--monitor', '--agent needs --monitor ws://HOST:PORT/ws');
  const monitor = parseUrl('--monitor', flags.monitor, ['ws:', 'wss:']).href;
  const name = flags.name === undefined ? undefined : parseName('--name', flags.name);
  const agent = runAgent({ monitor, token: flags.token, name, caps: agentCapsFromFlags(flags) });
  const log = (line: string) => process.stderr.write(`kalab agent: ${line}\n`);
  // One line per distinct failure until the link is up again, not one per retry.
  let lastFailure = '';
  agent.on('link-error', (err) => {
    const what = (err as NodeJS.ErrnoException).code ?? err.message;
    if (what !== lastFailure) log(`cannot reach ${monitor} (${what}); retrying with backoff`);
    lastFailure = what;
  });
  agent.on('connected', () => {
    lastFailure = '';
    log(`connected to ${monitor} as ${agent.link.options.name}`);
  });
  agent.on('disconnected', (d) => log(`monitor connection closed (${d.code}); reconnecting`));
  agent.on('run-start', ({ runId, options }) => log(`run ${runId}: ${options.target}`));
  agent.on('run-refused', ({ runId, message }) => log(`refused run ${runId}: ${message}`));
  agent.on('report', ({ report }) =>
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReport(report)),
  );
  return new Promise<number>((resolve, reject) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void agent.close().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    agent.once('fatal', (err) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void agent.close().then(() => reject(err));
    });
  });
}
