import { BusyError, UnreachableError } from '@kalab/core';
import { envelope, type RunStart } from '@kalab/protocol';
import { isLiveAgent, type Peer } from './peer.js';

type Send = (peer: Peer, msg: object) => void;

/**
 * Sends a run-start to an agent: the one named, else the first idle connected one.
 * Throws UnreachableError when there is no such agent, BusyError when every agent is running.
 */
export function dispatchRun(
  peers: Iterable<Peer>,
  send: Send,
  options: RunStart['options'],
  runId: string,
  agentName?: string,
): { runId: string; agent: string } {
  let any = false;
  for (const p of peers) {
    if (!isLiveAgent(p)) continue;
    any = true;
    if (agentName !== undefined ? p.source.name === agentName : !p.source.running) {
      send(p, envelope({ type: 'run-start' as const, runId, options }));
      return { runId, agent: p.source.name };
    }
  }
  if (agentName !== undefined) throw new UnreachableError(`no connected agent named "${agentName}"`);
  // Agents that are all running are busy, not unreachable: the caller may try again later.
  if (any) throw new BusyError('every connected agent is busy with another run');
  throw new UnreachableError('no agent is connected');
}

/** Asks the agent running `runId` to stop; false when no connected agent runs it. */
export function stopRun(peers: Iterable<Peer>, send: Send, runId: string): boolean {
  for (const p of peers) {
    if (p.role === 'agent' && p.source?.runId === runId && p.source.running) {
      send(p, envelope({ type: 'run-stop' as const, runId }));
      return true;
    }
  }
  return false;
}
