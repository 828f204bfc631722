import { BadOptionError, ExitCodes, parseInteger, parseUrl } from '@kalab/core';
import {
  type FanOutOptions,
  fanOutOutcome,
  formatAgents,
  formatProgress,
  formatReport,
  type LoadgenFlags,
  listAgents,
  optionsFromFlags,
  runFanOut,
} from '@kalab/loadgen';
import type { AgentInfo } from '@kalab/protocol';

/** The flags of `kalab loadgen URL --via ws://MONITOR/ws --agents N|all` and `--list-agents`. */
export interface FanOutFlags {
  via?: string;
  agents?: string;
  listAgents?: boolean;
}

/** True when the command line asks for a fan-out or the agent list rather than a local run. */
export function wantsFanOut(f: FanOutFlags): boolean {
  return f.via !== undefined || f.agents !== undefined || f.listAgents === true;
}

/** `--agents N|all` → a count (1..1024) or 'all'; the message quotes what was typed. */
function parseAgents(value: string): number | 'all' {
  return value.trim() === 'all' ? 'all' : parseInteger('--agents', value, 1, 1024);
}

/** `kalab loadgen [URL] --via ... (--agents N|all | --list-agents)`: parse, call @kalab/loadgen, print. */
export async function runFanOutMode(
  url: string | undefined,
  flags: FanOutFlags & LoadgenFlags & { json?: boolean; token?: string; monitor?: string },
): Promise<number> {
  const what = flags.listAgents ? '--list-agents' : '--agents';
  if (flags.via === undefined) throw new BadOptionError(what, `${what} needs --via ws://MONITOR:PORT/ws`);
  const via = parseUrl('--via', flags.via, ['ws:', 'wss:']).href;
  if (flags.monitor !== undefined)
    throw new BadOptionError('--monitor', '--monitor cannot go with --via: the monitor at --via already sees the run');
  if (flags.listAgents) {
    if (flags.agents !== undefined) throw new BadOptionError('--list-agents', '--list-agents cannot go with --agents');
    const agents = await listAgents({ via, token: flags.token });
    process.stdout.write(flags.json ? `${JSON.stringify({ agents })}\n` : formatAgentList(agents));
    return ExitCodes.OK;
  }
  if (flags.agents === undefined) throw new BadOptionError('--via', '--via needs --agents N|all (or --list-agents)');
  const agents = parseAgents(flags.agents);
  const load = optionsFromFlags(url, flags);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const o: FanOutOptions = { via, token: flags.token, agents, load, signal: abort.signal };
  if (process.stderr.isTTY) {
    o.onStarted = (m) =>
      process.stderr.write(
        `kalab: ${m.agents.length} agents start in ${Math.max(0, m.startAt - Date.now())} ms: ${m.agents.map((a) => `${a.name} -c ${a.options.connections}`).join(', ')}\n`,
      );
    o.onProgress = (m) =>
      process.stderr.write(
        `${formatProgress(m.tick, load.engine)}  ${m.agents.filter((a) => a.state === 'running').length}/${m.agents.length} agents running\n`,
      );
  }
  try {
    const report = await runFanOut(o);
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}${formatAgents(report)}`);
    const outcome = fanOutOutcome(report);
    if (outcome.message) process.stderr.write(`kalab: ${outcome.message}\n`);
    return outcome.code;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function formatAgentList(agents: AgentInfo[]): string {
  if (agents.length === 0) return 'no agent is connected\n';
  const rows = agents.map((a) => {
    const caps = a.caps
      ? `max ${a.caps.maxConnections} conn, ${a.caps.maxDurationMs / 1000} s, targets ${a.caps.allowTargets?.join(',') ?? 'loopback'}${a.caps.maxBodyBytes !== undefined ? `, body ${a.caps.maxBodyBytes} B` : ''}`
      : 'caps unknown';
    return `${a.name.padEnd(16)} ${a.host.padEnd(20)} ${a.state.padEnd(8)} ${String(a.cores ?? '?').padStart(3)} cores  v${a.version}  ${caps}`;
  });
  return `${rows.join('\n')}\n`;
}
