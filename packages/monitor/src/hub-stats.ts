import type { Role } from '@kalab/protocol';

export interface HubStats {
  /** Connected peers by role; `pending` have not said hello yet. */
  peers: Record<Role | 'pending', number>;
  accepted: number;
  /** Valid messages received after hellos. */
  messages: number;
  /** Connections the hub closed, by reason. */
  rejected: { protocol: number; tooLarge: number; auth: number; helloTimeout: number; heartbeat: number; full: number };
  snapshotsSent: number;
  snapshotsSkipped: number;
}

export const zeroPeers = (): HubStats['peers'] => ({ server: 0, agent: 0, viewer: 0, observer: 0, pending: 0 });

export function zeroHubStats(): HubStats {
  return {
    peers: zeroPeers(),
    accepted: 0,
    messages: 0,
    rejected: { protocol: 0, tooLarge: 0, auth: 0, helloTimeout: 0, heartbeat: 0, full: 0 },
    snapshotsSent: 0,
    snapshotsSkipped: 0,
  };
}
