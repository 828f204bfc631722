import { AuthError, LAB_VERSION, ProtocolError, UnsupportedError } from '@kalab/core';
import { decodeMessage, type Hello, HelloSchema, PROTOCOL_VERSION } from '@kalab/protocol';
import { tokensEqual } from './token.js';

/**
 * Checks a peer's first message: the protocol version (a specific message for a peer from
 * another lab version), the schema, and the token. Returns the hello and whether the peer
 * may start and stop runs; throws ProtocolError, AuthError, or UnsupportedError for an agent of
 * another lab version (a fan-out splits work between agents that must behave alike); the hub
 * closes the peer.
 */
export function acceptHello(data: Buffer, token: string | undefined): { hello: Hello; mayControl: boolean } {
  const head = data.subarray(0, 200).toString('utf8');
  const v = /"v"\s*:\s*(\d+)/.exec(head);
  if (v && Number(v[1]) !== PROTOCOL_VERSION && /"type"\s*:\s*"hello"/.test(head)) {
    throw new ProtocolError(`protocol version ${v[1]} is not supported (this monitor speaks ${PROTOCOL_VERSION})`);
  }
  const hello = decodeMessage(HelloSchema, data);
  // No token means a loopback-only monitor: every peer is local and may drive runs.
  const ok = token === undefined || tokensEqual(hello.token, token);
  // A viewer without a token may read; a wrong token is refused whoever presents it.
  if (!ok && (hello.role !== 'viewer' || hello.token !== undefined)) {
    throw new AuthError(hello.token === undefined ? 'a token is required' : 'wrong token');
  }
  if (hello.role === 'agent' && hello.version !== LAB_VERSION) {
    throw new UnsupportedError(
      `agent version ${hello.version || '(none)'} does not match this monitor's version ${LAB_VERSION}: run the same kalab version on both`,
    );
  }
  return { hello, mayControl: ok };
}
