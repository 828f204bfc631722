import { UnreachableError } from '@kalab/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type CloseMode, type ClosingServer, startClosingServer } from '../../../test/support/closing-server.js';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { startCloseCapture } from '../../../test/support/syn-capture.js';
import { probeKeepAlive } from '../src/index.js';

/**
 * A server that ends every connection once the doctor sends a byte, cleanly (FIN) or by a
 * reset (RST): the doctor's "no HTTP response" names which one, EPEERCLOSED or ECONNRESET, and
 * tcpdump saw the server's port send exactly that on each of the doctor's two connections (the
 * first request, then the h2c check a closed connection leads to), and never the other.
 */
const noCapture = missing('root and tcpdump (FINs and RSTs on loopback)', isRoot() && hasCommand('tcpdump'));

const CASES: Array<[CloseMode, string, RegExp]> = [
  ['fin', 'EPEERCLOSED', /: the server closed the connection \(FIN\) before responding \(EPEERCLOSED\)$/],
  ['rst', 'ECONNRESET', /: the server reset the connection \(RST: ECONNRESET\)$/],
];

let server: ClosingServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe.skipIf(noCapture)('kalab doctor against a server that closes with its first request in flight', () => {
  it.each(CASES)(
    'server sends %s: the doctor names %s, tcpdump counts 2 of them and 0 of the other',
    async (mode, code, says) => {
      server = await startClosingServer(mode, true);
      const capture = await startCloseCapture(server.port);
      const err = await probeKeepAlive(server.url, { budgetMs: 10_000 }).then(
        () => null,
        (e: unknown) => e,
      );
      const wire = await capture.stop();
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toMatch(says);
      expect(((err as Error).cause as { code?: string }).code).toBe(code);
      expect(server.closed).toBe(2);
      expect(wire).toEqual(mode === 'fin' ? { fin: 2, rst: 0 } : { fin: 0, rst: 2 });
    },
  );
});
