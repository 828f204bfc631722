import { AuthError, decodeMessage, type Hello, HelloSchema, PROTOCOL_VERSION, ProtocolError } from '@kalab/core';
import { tokensEqual } from './token.js';

/**
 * Checks a peer's first message: the protocol version (a specific message for a peer from
 * another lab version), the schema, and the token. Returns the hello and whether the peer
 * may start and stop runs; throws ProtocolError or AuthError (the hub closes the peer).
 */
export function acceptHello(data: Buffer, token: string | undefined): { hello: Hello; mayControl: boolean } {
  const head = data.subarray(0, 200).toString('utf8');
  const v = /"v"\s*:\s*(\d+)/.exec(head);
  if (v && Number(v[1]) !== PROTOCOL_VERSION && /"type"\s*:\s*"hello"/.test(head)) {
    throw new ProtocolError(`protocol version ${v[1]} is not supported (this monitor speaks ${PROTOCOL_VERSION})`);
  }
  const hello = decodeMessage(HelloSchema, data);
  // No token means a loopback-only monitor: every peer is local and may drive runs.
  if (token === undefined) return { hello, mayControl: true };
  const ok = tokensEqual(hello.token, token);
  // A viewer without a token may read; a wrong token is refused whoever presents it.
  if (!ok && (hello.role !== 'viewer' || hello.token !== undefined)) {
    throw new AuthError(hello.token === undefined ? 'a token is required' : 'wrong token');
  }
  return { hello, mayControl: ok };
}
