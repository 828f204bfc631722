import { randomUUID } from 'node:crypto';
import type { AgentCapsWire, Role } from '@kalab/protocol';
import type { WebSocket } from 'ws';
import type { SourceState } from './source-state.js';

/** One ws connection to the hub, before and after its hello. */
export interface Peer {
  id: string;
  ws: WebSocket;
  remote: string;
  role: Role | undefined;
  source: SourceState | undefined;
  /** Viewers with the token may start and stop runs; without it they only read. */
  mayControl: boolean;
  alive: boolean;
  helloTimer: NodeJS.Timeout | undefined;
  snapshotTimer: NodeJS.Timeout | undefined;
  /** Set when the hub closes the peer on purpose (its reason is already counted). */
  closing: boolean;
  heartbeatLost: boolean;
  /** What an agent announced in its hello (fan-out splits within its caps). */
  agent: { version: string; cores: number | null; caps: AgentCapsWire | null } | undefined;
}

export function newPeer(ws: WebSocket, remote: string): Peer {
  return {
    id: randomUUID(),
    ws,
    remote,
    role: undefined,
    source: undefined,
    mayControl: false,
    alive: true,
    helloTimer: undefined,
    snapshotTimer: undefined,
    closing: false,
    heartbeatLost: false,
    agent: undefined,
  };
}

/** An agent peer that currently speaks for its source (a reconnected agent's old socket does not). */
export function isLiveAgent(p: Peer): p is Peer & { source: SourceState } {
  return p.role === 'agent' && p.source !== undefined && p.source.peerId === p.id;
}
