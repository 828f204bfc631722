import { afterEach, describe, expect, it } from 'vitest';
import { type CloseMode, type ClosingServer, startClosingServer } from '../../../test/support/closing-server.js';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { startCloseCapture } from '../../../test/support/syn-capture.js';
import { type LoadOptions, runLoad } from '../src/index.js';

/**
 * A server that closes with a request in flight, cleanly (FIN) or by a reset (RST): every
 * engine names which one it met, EPEERCLOSED or ECONNRESET, as many times as tcpdump saw the
 * server's port send that FIN or RST (one request per connection, -c 1, so each close fails
 * exactly one request and the next request opens a new connection).
 */
const noCapture = missing('root and tcpdump (FINs and RSTs on loopback)', isRoot() && hasCommand('tcpdump'));

const REQUESTS = 3;

const ENGINES: Array<[string, Partial<LoadOptions>]> = [
  ['net', { engine: 'net' }],
  ['churn (net --no-keepalive)', { engine: 'net', keepAlive: false }],
  ['http', { engine: 'http' }],
  ['undici', { engine: 'undici' }],
  // One stream per session: the closed model's -c 1 then keeps one request in flight, as the HTTP/1 engines.
  ['h2', { engine: 'h2', streams: 1 }],
];

const CASES: Array<[CloseMode, string, string]> = [
  ['fin', 'EPEERCLOSED', 'FIN'],
  ['rst', 'ECONNRESET', 'RST'],
];

let server: ClosingServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe.skipIf(noCapture)('a close with a request in flight, named by what the wire carried', () => {
  for (const [mode, code, packet] of CASES) {
    it.each(ENGINES)(
      `server sends ${packet}: -c 1 -n ${REQUESTS} --engine %s reports ${REQUESTS} ${code} = tcpdump's ${REQUESTS} ${packet}s, 0 of the other`,
      async (_name, o) => {
        server = await startClosingServer(mode);
        const capture = await startCloseCapture(server.port);
        const report = await runLoad({ target: server.url, connections: 1, requests: REQUESTS, workers: 1, ...o })
          .result;
        const wire = await capture.stop();
        expect(report.errors).toEqual({ [code]: REQUESTS });
        expect(report.requests.failed).toBe(REQUESTS);
        expect(report.connections.opened).toBe(REQUESTS);
        expect(server.closed).toBe(REQUESTS);
        expect(wire).toEqual(mode === 'fin' ? { fin: REQUESTS, rst: 0 } : { fin: 0, rst: REQUESTS });
      },
    );
  }
});
