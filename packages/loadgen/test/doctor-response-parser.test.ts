import { describe, expect, it } from 'vitest';
import { ResponseParser, type WireResponse } from '../src/doctor/index.js';

function parse(chunks: Array<string | Buffer>, end = false): WireResponse[] {
  const out: WireResponse[] = [];
  const p = new ResponseParser((r) => out.push(r));
  for (const c of chunks) p.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'));
  if (end) p.end();
  return out;
}

describe('ResponseParser', () => {
  it('reads a Content-Length body and keeps HTTP/1.1 connections open by default', () => {
    const [r] = parse(['HTTP/1.1 200 OK\r\nContent-Length: 11\r\nKeep-Alive: timeout=5\r\n\r\nHello world']);
    expect(r).toMatchObject({ statusCode: 200, httpVersion: '1.1', bodyBytes: 11, closeAfter: false });
    expect(r!.headers).toContainEqual(['keep-alive', 'timeout=5']);
  });

  it('parses three pipelined responses arriving in one chunk', () => {
    const one = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const rs = parse([one + one + one]);
    expect(rs).toHaveLength(3);
    expect(rs.every((r) => r.bodyBytes === 2)).toBe(true);
  });

  it('reads a chunked body split byte by byte, with trailers', () => {
    const wire =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nHello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n';
    const rs = parse([...wire].map((ch) => ch));
    expect(rs).toHaveLength(1);
    expect(rs[0]!.bodyBytes).toBe(11);
  });

  it('marks Connection: close and HTTP/1.0 without keep-alive as the last response', () => {
    expect(parse(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'])[0]!.closeAfter).toBe(true);
    expect(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'])[0]!.closeAfter).toBe(true);
    expect(parse(['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n'])[0]!.closeAfter).toBe(
      false,
    );
  });

  it('completes a close-delimited body at FIN', () => {
    expect(parse(['HTTP/1.1 200 OK\r\n\r\nsome bytes'])).toHaveLength(0);
    const [r] = parse(['HTTP/1.1 200 OK\r\n\r\nsome bytes'], true);
    expect(r).toMatchObject({ bodyBytes: 10, closeAfter: true });
  });

  it('skips 1xx interim responses and reads 204/304 without a body', () => {
    const rs = parse([
      'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
    ]);
    expect(rs.map((r) => r.statusCode)).toEqual([204, 304]);
    expect(rs.map((r) => r.bodyBytes)).toEqual([0, 0]);
  });

  it('throws KALAB_ERR_PROTOCOL on a line that is not a status line', () => {
    expect(() => parse(['SSH-2.0-OpenSSH_9.2\r\n\r\n'])).toThrow(
      expect.objectContaining({ code: 'KALAB_ERR_PROTOCOL' }),
    );
  });
});
