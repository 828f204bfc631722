import {
  AuthError,
  decodeMessage,
  type Hello,
  HelloSchema,
  LAB_VERSION,
  PROTOCOL_VERSION,
  ProtocolError,
  UnsupportedError,
} from '@kalab/core';
import { tokensEqual } from './token.js';

/** What the hub knows of a peer and the monitor before its hello. */
export interface HelloPolicy {
  token: string | undefined;
  /** A monitor with a token and without public reads: viewers need the token too. */
  readNeedsToken: boolean;
  /** The upgrade carried an Origin header: a browser page (the monitor's own; others were refused at upgrade). */
  browser: boolean;
}

/**
 * Checks a peer's first message: the protocol version (a specific message for a peer from
 * another lab version), the schema, and the token. Returns the hello and whether the peer
 * may start and stop runs; throws ProtocolError, AuthError, or UnsupportedError for an agent of
 * another lab version (a fan-out splits work between agents that must behave alike); the hub
 * closes the peer.
 */
export function acceptHello(data: Buffer, policy: HelloPolicy): { hello: Hello; mayControl: boolean } {
  const { token } = policy;
  const head = data.subarray(0, 200).toString('utf8');
  const v = /"v"\s*:\s*(\d+)/.exec(head);
  if (v && Number(v[1]) !== PROTOCOL_VERSION && /"type"\s*:\s*"hello"/.test(head)) {
    throw new ProtocolError(`protocol version ${v[1]} is not supported (this monitor speaks ${PROTOCOL_VERSION})`);
  }
  const hello = decodeMessage(HelloSchema, data);
  // No token means a loopback-only monitor: every local program may drive runs.
  const ok = token === undefined || tokensEqual(hello.token, token);
  // A viewer without a token may read when reads are public; a wrong token is refused whoever presents it.
  if (!ok && (hello.role !== 'viewer' || hello.token !== undefined || policy.readNeedsToken)) {
    throw new AuthError(hello.token === undefined ? 'a token is required' : 'wrong token');
  }
  if (policy.browser && hello.role !== 'viewer')
    throw new AuthError(`a browser page may only connect as a viewer, not as ${hello.role}`);
  if (hello.role === 'agent' && hello.version !== LAB_VERSION) {
    throw new UnsupportedError(
      `agent version ${hello.version || '(none)'} does not match this monitor's version ${LAB_VERSION}: run the same kalab version on both`,
    );
  }
  // A browser drives runs only with the token typed into the page: on a tokenless monitor
  // the page is read-only, so nothing a browser loads can start load.
  return { hello, mayControl: ok && (!policy.browser || token !== undefined) };
}
