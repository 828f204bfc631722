import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BadOptionError } from '@kalab/core';
import { ReportSchema } from '@kalab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCommand, missing } from '../../../test/support/needs.js';
import { type LoadOptions, optionsFromFlags, resolveOptions, runLoad } from '../src/index.js';
import { requestShape } from '../src/request-shape.js';

interface Logged {
  method: string;
  path: string;
  headers: [string, string][];
  body: string;
  peer: number;
}

/** The independent server: Python's http.server, one JSON line per request it received. */
async function startPythonLogServer(): Promise<{ url: string; log: Logged[]; proc: ChildProcess }> {
  const proc = spawn('python3', [new URL('./fixtures/log-server.py', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log: Logged[] = [];
  const lines = createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('error', reject);
    lines.on('line', (l) => {
      const m = JSON.parse(l) as { port?: number } & Logged;
      if (m.port !== undefined) resolve(m.port);
      else log.push(m);
    });
  });
  return { url: `http://127.0.0.1:${port}/echo?q=1`, log, proc };
}

const header = (l: Logged, name: string) => l.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

describe.skipIf(missing('python3', hasCommand('python3')))(
  "-m POST -H 'X-Test: 1' -b hello arrives as exactly that at Python's http.server",
  () => {
    let srv: Awaited<ReturnType<typeof startPythonLogServer>>;
    beforeAll(async () => {
      srv = await startPythonLogServer();
    });
    afterAll(() => {
      srv.proc.kill();
    });

    // The request is the same in every engine; only the engine-owned Connection header says how
    // the engine manages the connection (docs/loadgen.md, "Requests"): undici and node:http always
    // say keep-alive (a no-op in HTTP/1.1), the lean engines say nothing, and `close` asks the
    // server to close first (node:http without keep-alive, --close-by server).
    it.each([
      ['undici', { engine: 'undici' }, 'keep-alive'],
      ['undici --no-keepalive (churn)', { engine: 'undici', keepAlive: false }, undefined],
      ['http', { engine: 'http' }, 'keep-alive'],
      ['http --no-keepalive', { engine: 'http', keepAlive: false }, 'close'],
      ['net', { engine: 'net' }, undefined],
      ['net --no-keepalive (churn)', { engine: 'net', keepAlive: false }, undefined],
      ['churn --close-by server', { engine: 'net', keepAlive: false, closeBy: 'server' }, 'close'],
    ] as Array<[string, Pick<LoadOptions, 'engine' | 'keepAlive' | 'closeBy'>, string | undefined]>)(
      '%s: 20 requests, each POST /echo?q=1 with X-Test: 1 and the 5-byte body, the same headers in the same order',
      async (_what, o, connection) => {
        srv.log.length = 0;
        const opts: LoadOptions = {
          connections: 2,
          requests: 20,
          workers: 1,
          ...optionsFromFlags(srv.url, { method: 'POST', header: ['X-Test: 1'], body: 'hello' }),
          ...o,
        };
        const report = await runLoad(opts).result;
        ReportSchema.parse(report);
        expect(report.requests.ok).toBe(20);
        expect(report.config['method']).toBe('POST');
        expect(report.config['bodyBytes']).toBe(5);
        expect(srv.log).toHaveLength(20);
        for (const l of srv.log) {
          expect(l.method).toBe('POST');
          expect(l.path).toBe('/echo?q=1');
          expect(header(l, 'X-Test')).toBe('1');
          expect(header(l, 'Content-Length')).toBe('5');
          expect(Buffer.from(l.body, 'base64').toString()).toBe('hello');
          expect(header(l, 'Host')).toBe(new URL(srv.url).host);
          // Names are case-insensitive (undici writes host and content-length in lower case).
          expect(
            l.headers.filter(([n]) => n.toLowerCase() !== 'connection').map(([n, v]) => [n.toLowerCase(), v]),
          ).toEqual([
            ['host', new URL(srv.url).host],
            ['user-agent', 'kalab'],
            ['accept', '*/*'],
            ['x-test', '1'],
            ['content-length', '5'],
          ]);
          expect(header(l, 'Connection')).toBe(connection);
        }
        // Keep-alive: 2 connections carry the 20 requests; without it, one each.
        expect(new Set(srv.log.map((l) => l.peer)).size).toBe(o.keepAlive === false ? 20 : 2);
      },
    );

    it.each(['undici', 'http', 'net'] as const)(
      '%s: -H Host: overrides the URL host, -H User-Agent replaces the default, a binary --body-file arrives byte for byte',
      async (engine) => {
        srv.log.length = 0;
        const dir = mkdtempSync(join(tmpdir(), 'kalab-body-'));
        const file = join(dir, 'body.bin');
        const bytes = Buffer.from([0, 255, 13, 10, 200, 1, 2, 3]);
        writeFileSync(file, bytes);
        const flags = optionsFromFlags(srv.url, {
          method: 'PUT',
          header: ['Host: example.test', 'User-Agent: probe/1', 'Authorization: Bearer abc'],
          bodyFile: file,
        });
        expect(flags.bodyEncoding).toBe('base64');
        const report = await runLoad({ ...flags, engine, connections: 1, requests: 3, workers: 1 }).result;
        expect(report.requests.ok).toBe(3);
        expect(srv.log).toHaveLength(3);
        for (const l of srv.log) {
          expect(l.method).toBe('PUT');
          expect(header(l, 'Host')).toBe('example.test');
          expect(l.headers.filter(([n]) => n.toLowerCase() === 'host')).toHaveLength(1);
          expect(header(l, 'User-Agent')).toBe('probe/1');
          expect(l.headers.filter(([n]) => n.toLowerCase() === 'user-agent')).toHaveLength(1);
          expect(header(l, 'Authorization')).toBe('Bearer abc');
          expect(Buffer.from(l.body, 'base64').equals(bytes)).toBe(true);
        }
      },
    );
  },
);

describe('request flags: bad input names the flag', () => {
  const T = 'http://127.0.0.1:1/';
  const flagOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(BadOptionError);
      return (err as BadOptionError).option;
    }
    throw new Error('no error');
  };
  const dir = mkdtempSync(join(tmpdir(), 'kalab-body-'));

  it('-H novalue, a header with CR/LF, a header the engine owns', () => {
    expect(flagOf(() => optionsFromFlags(T, { header: ['novalue'] }))).toBe('-H');
    expect(() => optionsFromFlags(T, { header: ['novalue'] })).toThrow(/'Name: value', got "novalue"/);
    expect(flagOf(() => optionsFromFlags(T, { header: ['X-A: 1\r\nX-B: 2'] }))).toBe('-H');
    expect(flagOf(() => resolveOptions({ target: T, headers: [['X-A', 'a\nb']] }))).toBe('-H');
    expect(flagOf(() => optionsFromFlags(T, { header: ['Content-Length: 5'] }))).toBe('-H');
    expect(flagOf(() => optionsFromFlags(T, { header: ['Bad Name: 5'] }))).toBe('-H');
  });

  it('-b with --body-file, a missing and an oversized body file', () => {
    const small = join(dir, 'small');
    writeFileSync(small, 'x');
    expect(flagOf(() => optionsFromFlags(T, { body: 'a', bodyFile: small }))).toBe('-b');
    expect(flagOf(() => optionsFromFlags(T, { bodyFile: join(dir, 'missing') }))).toBe('--body-file');
    expect(() => optionsFromFlags(T, { bodyFile: join(dir, 'missing') })).toThrow(/ENOENT/);
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(8 * 1024 * 1024 + 1));
    expect(() => optionsFromFlags(T, { bodyFile: big })).toThrow(/8388609 bytes, more than the 8388608-byte limit/);
    expect(flagOf(() => optionsFromFlags(T, { bodyFile: dir }))).toBe('--body-file');
  });

  it('-m must be a token; CONNECT is refused; TLS flags need https://', () => {
    expect(flagOf(() => optionsFromFlags(T, { method: 'GE T' }))).toBe('-m');
    expect(flagOf(() => optionsFromFlags(T, { method: 'CONNECT' }))).toBe('-m');
    expect(flagOf(() => resolveOptions({ target: T, insecure: true }))).toBe('--insecure');
    expect(flagOf(() => optionsFromFlags('https://127.0.0.1:1/', { tlsResume: 'maybe' }))).toBe('--tls-resume');
  });
});

describe('requestShape: one request for every engine', () => {
  it('POST without a body says Content-Length: 0; GET says none; defaults yield to the user', () => {
    const url = new URL('http://127.0.0.1:8080/a?b=1');
    expect(requestShape(url, 'POST', [], null).headers).toEqual([
      ['User-Agent', 'kalab'],
      ['Accept', '*/*'],
      ['Content-Length', '0'],
    ]);
    expect(requestShape(url, 'GET', [], null).headers).toEqual([
      ['User-Agent', 'kalab'],
      ['Accept', '*/*'],
    ]);
    const s = requestShape(
      url,
      'GET',
      [
        ['accept', 'text/plain'],
        ['HOST', 'x.test'],
      ],
      null,
    );
    expect(s.authority).toBe('x.test');
    expect(s.headers).toEqual([
      ['User-Agent', 'kalab'],
      ['accept', 'text/plain'],
    ]);
  });
});
