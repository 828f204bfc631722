import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP1_MAX_HEAD_BYTES, Http1ResponseParser, type HttpParseReason } from '../src/http1/index.js';

/**
 * One case of the table: the bytes a server sends on one connection, and what a client
 * must make of them. `responses` are the final responses completed, as
 * [status, keepAlive, bodyBytes]; `error` the reason the stream is refused (after those
 * responses); `end` what the close says ('ok': the stream ended cleanly, 'cut': a
 * response was cut short).
 */
interface Case {
  name: string;
  wire: string;
  head?: boolean;
  responses: Array<[number, boolean, number]>;
  interim?: number[];
  error?: HttpParseReason;
  end?: 'ok' | 'cut';
  /** Where llhttp (node:http) decides differently, on purpose: what it does instead. */
  llhttp?: 'accept' | 'skip';
}

const CL5 = 'Content-Length: 5\r\n';
const OK = `HTTP/1.1 200 OK\r\n${CL5}\r\nhello`;
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
const NGINX =
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 05:00:00 GMT\r\nContent-Type: text/plain\r\n' +
  'Content-Length: 11\r\nConnection: keep-alive\r\n\r\nHello world';

const VALID: Case[] = [
  { name: 'Content-Length body', wire: OK, responses: [[200, true, 5]] },
  { name: 'nginx response', wire: NGINX, responses: [[200, true, 11]] },
  { name: 'no reason phrase', wire: `HTTP/1.1 200\r\n${CL5}\r\nhello`, responses: [[200, true, 5]] },
  { name: 'empty reason phrase', wire: `HTTP/1.1 404 \r\n${CL5}\r\nhello`, responses: [[404, true, 5]] },
  {
    name: 'control bytes and obs-text in the reason (llhttp takes them)',
    wire: `HTTP/1.1 200 O\tK\x01\xe9\r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
  { name: 'status 099 is 3 digits', wire: `HTTP/1.1 099 X\r\n${CL5}\r\nhello`, responses: [[99, true, 5]] },
  {
    name: 'Content-Length without spaces',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length:5\r\n\r\nhello',
    responses: [[200, true, 5]],
  },
  {
    name: 'Content-Length with a leading tab and trailing spaces, leading zeros',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length:\t0005  \r\n\r\nhello',
    responses: [[200, true, 5]],
  },
  { name: 'Content-Length: 0', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', responses: [[200, true, 0]] },
  {
    name: 'names in any case',
    wire: 'HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 5\r\nCONNECTION: CLOSE\r\n\r\nhello',
    responses: [[200, false, 5]],
  },
  {
    name: 'empty values, tabs and obs-text in values',
    wire: `HTTP/1.1 200 OK\r\nX-A:\r\nX-B: a\tb\r\nX-C: \xe9t\xe9\r\nX-D:a \r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
  {
    name: 'chunked with an extension, leading zeros and a trailer',
    wire: `${CHUNKED}5;name="a b"\r\nhello\r\n06\r\n world\r\n0;x=1\r\nX-Trailer: 1\r\n\r\n`,
    responses: [[200, true, 11]],
  },
  {
    name: 'chunked, case and spaces',
    wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding:  CHUNKED \r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    responses: [[200, true, 5]],
  },
  {
    name: 'gzip, chunked is chunked',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    responses: [[200, true, 5]],
  },
  {
    name: 'chunked in a second Transfer-Encoding header',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    responses: [[200, true, 5]],
  },
  {
    name: 'chunked not last: the body runs to the close',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nhello',
    responses: [[200, false, 5]],
  },
  {
    name: 'chunked;q=1 is not chunked',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\nhello',
    responses: [[200, false, 5]],
  },
  {
    name: 'an empty Transfer-Encoding is no Transfer-Encoding',
    wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
  { name: 'body delimited by the close', wire: 'HTTP/1.1 200 OK\r\n\r\nhello', responses: [[200, false, 5]] },
  { name: 'empty body delimited by the close', wire: 'HTTP/1.1 200 OK\r\n\r\n', responses: [[200, false, 0]] },
  { name: 'HTTP/1.0 closes by default', wire: `HTTP/1.0 200 OK\r\n${CL5}\r\nhello`, responses: [[200, false, 5]] },
  {
    name: 'HTTP/1.0 with keep-alive',
    wire: `HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
  {
    name: 'close in a list',
    wire: `HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n${CL5}\r\nhello`,
    responses: [[200, false, 5]],
  },
  {
    name: '"closed" is not close',
    wire: `HTTP/1.1 200 OK\r\nConnection: closed\r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
  {
    name: '100 Continue is not the response',
    wire: `HTTP/1.1 100 Continue\r\n\r\n${OK}`,
    interim: [100],
    responses: [[200, true, 5]],
  },
  {
    name: '102 and 103 (with headers and a Content-Length) are interim',
    wire: `HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n${CL5}\r\n${OK}`,
    interim: [102, 103],
    responses: [[200, true, 5]],
  },
  {
    name: '101 is final; what follows is another protocol',
    wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00',
    responses: [[101, false, 0]],
  },
  { name: '204 has no body', wire: `HTTP/1.1 204 No Content\r\n${CL5}\r\n`, responses: [[204, true, 0]] },
  {
    name: '304 has no body, even chunked',
    wire: 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n',
    responses: [[304, true, 0]],
  },
  {
    name: 'HEAD: no body after Content-Length',
    wire: `HTTP/1.1 200 OK\r\n${CL5}\r\n`,
    head: true,
    responses: [[200, true, 0]],
  },
  { name: 'HEAD: no body after chunked', wire: CHUNKED, head: true, responses: [[200, true, 0]] },
  { name: 'HEAD: no body without framing', wire: 'HTTP/1.1 200 OK\r\n\r\n', head: true, responses: [[200, true, 0]] },
  {
    name: 'pipelined responses of every framing',
    wire: `${OK}HTTP/1.1 204 No Content\r\n\r\n${CHUNKED}5\r\nhello\r\n0\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n${NGINX}HTTP/1.1 200 OK\r\n\r\nrest`,
    interim: [100],
    responses: [
      [200, true, 5],
      [204, true, 0],
      [200, true, 5],
      [200, true, 11],
      [200, false, 4],
    ],
    llhttp: 'skip',
  },
  {
    name: "503s after Connection: close (node's answer to requests pipelined past maxRequestsPerSocket)",
    wire:
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi' +
      'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    responses: [
      [200, false, 2],
      [503, false, 0],
    ],
    llhttp: 'skip',
  },
  {
    name: 'a head just under the limit',
    wire: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(10_000)}\r\n${CL5}\r\nhello`,
    responses: [[200, true, 5]],
  },
];

const INVALID: Case[] = [
  { name: 'not HTTP', wire: 'SSH-2.0-OpenSSH_9.2\r\n\r\n', responses: [], error: 'BAD_STATUS_LINE' },
  { name: 'lower-case http', wire: `http/1.1 200 OK\r\n${CL5}\r\nhello`, responses: [], error: 'BAD_STATUS_LINE' },
  { name: 'HTTP/1.2', wire: `HTTP/1.2 200 OK\r\n${CL5}\r\nhello`, responses: [], error: 'BAD_STATUS_LINE' },
  {
    name: 'HTTP/2.0 (llhttp takes it; not HTTP/1.x)',
    wire: `HTTP/2.0 200 OK\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_STATUS_LINE',
    llhttp: 'accept',
  },
  {
    name: 'HTTP/0.9 (llhttp takes it; not HTTP/1.x)',
    wire: `HTTP/0.9 200 OK\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_STATUS_LINE',
    llhttp: 'accept',
  },
  { name: '2-digit status', wire: `HTTP/1.1 20 OK\r\n${CL5}\r\nhello`, responses: [], error: 'BAD_STATUS_LINE' },
  { name: '4-digit status', wire: `HTTP/1.1 2000 OK\r\n${CL5}\r\nhello`, responses: [], error: 'BAD_STATUS_LINE' },
  {
    name: 'two spaces before the status',
    wire: `HTTP/1.1  200 OK\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'tab after the status',
    wire: `HTTP/1.1 200\tOK\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'bare LF line endings',
    wire: 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello',
    responses: [],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'CR without LF on the status line',
    wire: `HTTP/1.1 200 OK\r${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'bare LF after a header',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\n\r\nhello',
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'CR inside a value',
    wire: `HTTP/1.1 200 OK\r\nX: a\rb\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'CR without LF at the end of the head',
    wire: `HTTP/1.1 200 OK\r\n${CL5}\rhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'header without a colon',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello',
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'space before the colon',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello',
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'tab before the colon',
    wire: `HTTP/1.1 200 OK\r\nX\t: a\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  { name: 'empty header name', wire: `HTTP/1.1 200 OK\r\n: a\r\n${CL5}\r\nhello`, responses: [], error: 'BAD_HEADER' },
  {
    name: 'non-token byte in a name',
    wire: `HTTP/1.1 200 OK\r\nX(a): 5\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'obs-text in a name',
    wire: `HTTP/1.1 200 OK\r\nX-\xe9: a\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'NUL in a value',
    wire: `HTTP/1.1 200 OK\r\nX: a\x00b\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'DEL in a value',
    wire: `HTTP/1.1 200 OK\r\nX: a\x7fb\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'obsolete line folding',
    wire: `HTTP/1.1 200 OK\r\nX: a\r\n b\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'whitespace before the first header',
    wire: `HTTP/1.1 200 OK\r\n X: 1\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'Content-Length not a number',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'negative Content-Length',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'Content-Length with a sign',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'empty Content-Length',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'Content-Length list',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'two numbers in one Content-Length',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'Content-Length with a trailing tab',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\t\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'Content-Length past 2^64',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello',
    responses: [],
    error: 'BAD_CONTENT_LENGTH',
  },
  {
    name: 'two equal Content-Length headers',
    wire: `HTTP/1.1 200 OK\r\n${CL5}${CL5}\r\nhello`,
    responses: [],
    error: 'CONFLICTING_CONTENT_LENGTH',
  },
  {
    name: 'two different Content-Length headers',
    wire: `HTTP/1.1 200 OK\r\n${CL5}Content-Length: 6\r\n\r\nhello!`,
    responses: [],
    error: 'CONFLICTING_CONTENT_LENGTH',
  },
  {
    name: 'Transfer-Encoding then Content-Length',
    wire: `${CHUNKED.slice(0, -2)}${CL5}\r\n5\r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'TRANSFER_ENCODING_WITH_CONTENT_LENGTH',
  },
  {
    name: 'Content-Length then Transfer-Encoding',
    wire: `HTTP/1.1 200 OK\r\n${CL5}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'TRANSFER_ENCODING_WITH_CONTENT_LENGTH',
  },
  {
    name: 'gzip with Content-Length',
    wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'TRANSFER_ENCODING_WITH_CONTENT_LENGTH',
  },
  {
    name: 'overlong head',
    wire: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(HTTP1_MAX_HEAD_BYTES)}\r\n${CL5}\r\nhello`,
    responses: [],
    error: 'HEAD_TOO_LARGE',
  },
  { name: 'chunk size not hex', wire: `${CHUNKED}zz\r\nhello\r\n0\r\n\r\n`, responses: [], error: 'BAD_CHUNK_SIZE' },
  { name: 'empty chunk size', wire: `${CHUNKED}\r\nhello\r\n0\r\n\r\n`, responses: [], error: 'BAD_CHUNK_SIZE' },
  {
    name: 'space after the chunk size',
    wire: `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'BAD_CHUNK_SIZE',
  },
  {
    name: 'space before a chunk extension',
    wire: `${CHUNKED}5 ;a=b\r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'BAD_CHUNK_SIZE',
  },
  {
    name: 'control byte in a chunk extension',
    wire: `${CHUNKED}5;a=\x01\r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'BAD_CHUNK_SIZE',
  },
  {
    name: 'bare LF after the chunk size',
    wire: `${CHUNKED}5\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'BAD_CHUNK_SIZE',
  },
  {
    name: 'chunk size past 2^64',
    wire: `${CHUNKED}fffffffffffffffff\r\nhello\r\n0\r\n\r\n`,
    responses: [],
    error: 'BAD_CHUNK_SIZE',
  },
  { name: 'chunk data without CRLF', wire: `${CHUNKED}5\r\nhelloXX0\r\n\r\n`, responses: [], error: 'BAD_CHUNK_END' },
  { name: 'chunk data with bare LF', wire: `${CHUNKED}5\r\nhello\n0\r\n\r\n`, responses: [], error: 'BAD_CHUNK_END' },
  {
    name: 'trailer without a colon',
    wire: `${CHUNKED}5\r\nhello\r\n0\r\nX-T 1\r\n\r\n`,
    responses: [],
    error: 'BAD_HEADER',
  },
  {
    name: 'control byte in a trailer',
    wire: `${CHUNKED}5\r\nhello\r\n0\r\nX: a\x01\r\n\r\n`,
    responses: [],
    error: 'BAD_HEADER',
  },
  { name: 'bare LF ending the trailers', wire: `${CHUNKED}5\r\nhello\r\n0\r\n\n`, responses: [], error: 'BAD_HEADER' },
  {
    name: 'garbage after a keep-alive response',
    wire: `${OK}EXTRA`,
    responses: [[200, true, 5]],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'garbage after Connection: close',
    wire: `HTTP/1.1 200 OK\r\nConnection: close\r\n${CL5}\r\nhelloEXTRA`,
    responses: [[200, false, 5]],
    error: 'BAD_STATUS_LINE',
  },
  {
    name: 'garbage after an HTTP/1.0 response',
    wire: `HTTP/1.0 200 OK\r\n${CL5}\r\nhelloEXTRA`,
    responses: [[200, false, 5]],
    error: 'BAD_STATUS_LINE',
  },
  { name: 'cut in the body', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', responses: [], end: 'cut' },
  { name: 'cut before the body', wire: `HTTP/1.1 200 OK\r\n${CL5}\r\n`, responses: [], end: 'cut' },
  { name: 'cut in the head', wire: `HTTP/1.1 200 OK\r\n${CL5}`, responses: [], end: 'cut' },
  { name: 'cut in the status line', wire: 'HTTP/1.1 200', responses: [], end: 'cut' },
  { name: 'cut in a chunk', wire: `${CHUNKED}5\r\nhel`, responses: [], end: 'cut' },
  { name: 'cut before the last CRLF', wire: `${CHUNKED}5\r\nhello\r\n0\r\n`, responses: [], end: 'cut' },
  {
    name: 'cut after an interim response',
    wire: 'HTTP/1.1 100 Continue\r\n\r\n',
    interim: [100],
    responses: [],
    end: 'cut',
  },
];

/** What our parser makes of a stream fed in the given pieces. */
function run(c: Case, pieces: Buffer[]) {
  const responses: Array<[number, boolean, number]> = [];
  const interim: number[] = [];
  const parser = new Http1ResponseParser((status, keepAlive) => responses.push([status, keepAlive, parser.bodyBytes]), {
    head: c.head === true,
    onInformation: (s) => interim.push(s),
  });
  let error: string | undefined;
  let end: 'ok' | 'cut' | undefined;
  try {
    for (const p of pieces) parser.execute(p);
    end = parser.end() ? 'ok' : 'cut';
  } catch (err) {
    expect(err).toMatchObject({ name: 'HttpParseError', code: 'KALAB_ERR_HTTP_PARSE' });
    error = (err as { reason: string }).reason;
  }
  return { responses, interim, error, end };
}

function expected(c: Case) {
  return {
    responses: c.responses,
    interim: c.interim ?? [],
    error: c.error,
    end: c.error ? undefined : (c.end ?? 'ok'),
  };
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('Http1ResponseParser: valid and invalid messages', () => {
  it.each(VALID.map((c) => [c.name, c] as const))('accepts %s', (_name, c) => {
    expect(run(c, [bytes(c.wire)])).toEqual(expected(c));
  });

  it.each(INVALID.map((c) => [c.name, c] as const))('refuses %s', (_name, c) => {
    expect(run(c, [bytes(c.wire)])).toEqual(expected(c));
  });

  it('gives every refusal a message that says what was wrong and where', () => {
    const p = new Http1ResponseParser(() => {});
    expect(() => p.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n'))).toThrow(
      'whitespace before the colon of a header near "\\x0d\\x0aContent-Length : 5\\x0d\\x0a\\x0d\\x0a"',
    );
  });
});

describe('Http1ResponseParser: split reads', () => {
  const all = [...VALID, ...INVALID].filter((c) => c.wire.length < 2_000);

  it.each(all.map((c) => [c.name, c] as const))('same result at every split point: %s', (_name, c) => {
    const wire = bytes(c.wire);
    const want = expected(c);
    for (let at = 0; at <= wire.length; at++) {
      const got = run(c, [wire.subarray(0, at), wire.subarray(at)]);
      if (JSON.stringify(got) !== JSON.stringify(want)) expect({ at, ...got }).toEqual({ at, ...want });
    }
    expect(
      run(
        c,
        [...wire].map((b) => Buffer.from([b])),
      ),
    ).toEqual(want);
  });

  it('refuses an overlong head that arrives a byte at a time, before its end', () => {
    const parser = new Http1ResponseParser(() => {}, { maxHeadBytes: 100 });
    const wire = bytes(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(200)}`);
    let fedWhenRefused = -1;
    for (let k = 0; k < wire.length && fedWhenRefused < 0; k++) {
      try {
        parser.execute(wire.subarray(k, k + 1));
      } catch (err) {
        expect(err).toMatchObject({ reason: 'HEAD_TOO_LARGE' });
        fedWhenRefused = k + 1;
      }
    }
    expect(fedWhenRefused).toBe(101);
  });

  it('copies what it keeps: a read buffer shared by connections may be overwritten between reads', () => {
    const shared = Buffer.alloc(64);
    const seen: Array<[number, string | undefined]> = [];
    const parser = new Http1ResponseParser(() => seen.push([parser.statusCode, parser.headers?.[0]?.[1]]), {
      headers: true,
    });
    for (const piece of ['HTTP/1.1 201 Created\r\nX-Na', 'me: kept\r\nContent-Le', 'ngth: 2\r\n\r\nok']) {
      shared.fill(0);
      bytes(piece).copy(shared);
      parser.execute(shared.subarray(0, piece.length));
    }
    expect(seen).toEqual([[201, 'kept']]);
  });
});

describe('Http1ResponseParser: what callers read', () => {
  it('keeps headers only when asked, lower-cased and trimmed, in order', () => {
    const wire = bytes(
      `HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5 \r\nX-A:\r\nConnection: keep-alive\r\n${CL5}\r\nhello`,
    );
    const plain = new Http1ResponseParser(() => {});
    plain.execute(wire);
    expect(plain.headers).toBeNull();
    const got: unknown[] = [];
    const p = new Http1ResponseParser(() => got.push({ minor: p.httpMinor, headers: p.headers, body: p.bodyBytes }), {
      headers: true,
    });
    p.execute(wire);
    expect(got).toEqual([
      {
        minor: 0,
        headers: [
          ['keep-alive', 'timeout=5'],
          ['x-a', ''],
          ['connection', 'keep-alive'],
          ['content-length', '5'],
        ],
        body: 5,
      },
    ]);
  });

  it('says when a response is under way, and whether the close cut one short', () => {
    const p = new Http1ResponseParser(() => {});
    expect(p.midResponse).toBe(false);
    p.execute(bytes('H'));
    expect(p.midResponse).toBe(true);
    p.execute(bytes(OK.slice(1)));
    expect(p.midResponse).toBe(false);
    expect(p.end()).toBe(true);
  });
});

/** What node's own parser (llhttp, through node:http) makes of the same bytes from a raw server. */
interface NodeVerdict {
  accepted: boolean;
  status: number | null;
  interim: number[];
  bodyBytes: number;
}

describe('Http1ResponseParser agrees with llhttp (node:http) on the same byte streams', () => {
  let server: net.Server;
  let port = 0;
  const streams = new Map<number, Buffer>();

  beforeAll(async () => {
    // The client's request names the case (GET /<index>); the server answers with its bytes and closes.
    server = net.createServer((s) => {
      s.on('error', () => {});
      let head = '';
      s.on('data', (d) => {
        head += d.toString('latin1');
        const m = /^[A-Z]+ \/(\d+) /.exec(head);
        if (m && head.includes('\r\n\r\n')) s.end(streams.get(Number(m[1]))!);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function viaNode(index: number, c: Case): Promise<NodeVerdict> {
    streams.set(index, bytes(c.wire));
    return new Promise((resolve) => {
      const v: NodeVerdict = { accepted: false, status: null, interim: [], bodyBytes: 0 };
      let failed = false;
      let complete = false;
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        // A parse error on bytes after a complete response arrives right after it: give it a moment.
        setTimeout(() => resolve({ ...v, accepted: complete && !failed }), 20);
      };
      const req = http.request(
        { host: '127.0.0.1', port, path: `/${index}`, method: c.head ? 'HEAD' : 'GET', agent: false },
        (res) => {
          v.status = res.statusCode ?? null;
          res.on('data', (d: Buffer) => {
            v.bodyBytes += d.length;
          });
          res.on('end', () => {
            complete = res.complete;
          });
          res.on('error', () => {
            failed = true;
          });
          res.on('close', settle);
        },
      );
      req.on('information', (info) => v.interim.push(info.statusCode));
      req.on('upgrade', (res, socket) => {
        v.status = res.statusCode ?? null;
        complete = true;
        socket.destroy();
        settle();
      });
      req.on('error', () => {
        failed = true;
        settle();
      });
      req.end();
    });
  }

  const cases = [...VALID, ...INVALID].filter((c) => c.llhttp !== 'skip');

  it.each(cases.map((c, k) => [c.name, k, c] as const))('%s', async (_name, k, c) => {
    const ours = run(c, [bytes(c.wire)]);
    const node = await viaNode(k, c);
    const oursAccepted = ours.error === undefined && ours.end === 'ok' && ours.responses.length === 1;
    expect(node.accepted).toBe(c.llhttp === 'accept' ? true : oursAccepted);
    if (c.llhttp === 'accept') return;
    if (oursAccepted) {
      const [status, , body] = ours.responses[0]!;
      expect({ status: node.status, body: node.bodyBytes, interim: node.interim }).toEqual({
        status,
        body,
        interim: ours.interim,
      });
    }
  });
});

describe('Http1ResponseParser: onHead (a caller that never reads bodies)', () => {
  function heads(wire: string, head = false) {
    const events: string[] = [];
    const parser = new Http1ResponseParser((status) => events.push(`response ${status}`), {
      head,
      onHead: (status, bodyFollows) => events.push(`head ${status} ${bodyFollows ? 'body' : 'no body'}`),
    });
    const w = bytes(wire);
    // Byte at a time: the head is announced once, before any body byte, at whatever split.
    for (let k = 0; k < w.length; k++) parser.execute(w.subarray(k, k + 1));
    return events;
  }

  it('announces the head of a response with a body before its end', () => {
    expect(heads(`HTTP/1.1 200 OK\r\n${CL5}\r\nhello`)).toEqual(['head 200 body', 'response 200']);
    expect(heads(`${CHUNKED}5\r\nhello\r\n0\r\n\r\n`)).toEqual(['head 200 body', 'response 200']);
  });

  it('says no body follows for Content-Length: 0, 204, 304 and HEAD', () => {
    expect(heads('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).toEqual(['head 200 no body', 'response 200']);
    expect(heads('HTTP/1.1 204 No Content\r\n\r\n')).toEqual(['head 204 no body', 'response 204']);
    expect(heads('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')).toEqual([
      'head 304 no body',
      'response 304',
    ]);
    expect(heads(`HTTP/1.1 200 OK\r\n${CL5}\r\n`, true)).toEqual(['head 200 no body', 'response 200']);
  });

  it('skips interim responses: only the final head is announced', () => {
    expect(heads(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n${CL5}\r\nhello`)).toEqual([
      'head 201 body',
      'response 201',
    ]);
  });
});

describe('Http1ResponseParser: execute(buf, end) reads only buf[0..end)', () => {
  it('parses the read and never looks past its end (a shared read buffer holds stale bytes there)', () => {
    const wire = `HTTP/1.1 200 OK\r\n${CL5}\r\nhello`;
    const shared = Buffer.alloc(256, 'X');
    const responses: number[] = [];
    const parser = new Http1ResponseParser((status) => responses.push(status));
    const n = shared.write(wire, 'latin1');
    parser.execute(shared, n);
    expect(responses).toEqual([200]);
    // The stale bytes after `end` are not a second response (parsing them would throw BAD_STATUS_LINE).
    expect(parser.midResponse).toBe(false);
    const k = shared.write('HTTP/1.1 204 No Content\r\n\r\n', 'latin1');
    parser.execute(shared, k);
    expect(responses).toEqual([200, 204]);
  });

  it("an error's excerpt shows only the read's bytes", () => {
    const shared = Buffer.alloc(64, 'Z');
    const n = shared.write('HTTP/1.1 2x', 'latin1');
    const parser = new Http1ResponseParser(() => {});
    expect(() => parser.execute(shared, n)).toThrow(/near "HTTP\/1\.1 2x"$/);
  });
});
