import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The server's diagnostics channels, declared in one place (undici style: `pkg:area:event`,
 * one object per message). Publishers check `hasSubscribers` first, so nobody listening
 * costs one property read per event.
 *
 * - connection-open:  { ledger, connection }            a TCP connection was accepted
 * - connection-close: { ledger, connection }            it closed; connection.closedBy says why
 * - request:          { ledger, connection, method, url } a request arrived on it (h1 or h2c stream)
 * - request-end:      { ledger, connection, method, url, headers, bodyBytes } its body was read to the end
 *                     (headers: raw name/value list as node gives them; published for every request while subscribed)
 *
 * `connection` is the ledger's live ConnectionRecord: read it, do not keep or mutate it.
 */
export const channels = {
  connectionOpen: diagnosticsChannel.channel('kalab:server:connection-open'),
  connectionClose: diagnosticsChannel.channel('kalab:server:connection-close'),
  request: diagnosticsChannel.channel('kalab:server:request'),
  requestEnd: diagnosticsChannel.channel('kalab:server:request-end'),
} as const;

export const CHANNEL_NAMES = {
  connectionOpen: 'kalab:server:connection-open',
  connectionClose: 'kalab:server:connection-close',
  request: 'kalab:server:request',
  requestEnd: 'kalab:server:request-end',
} as const;
