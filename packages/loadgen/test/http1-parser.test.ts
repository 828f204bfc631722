import { describe, expect, it } from 'vitest';
import { Http1ResponseParser } from '../src/http1-parser.js';

function parse(chunks: (string | Buffer)[]): { responses: [number, boolean][]; parser: Http1ResponseParser } {
  const responses: [number, boolean][] = [];
  const parser = new Http1ResponseParser((status, keepAlive) => responses.push([status, keepAlive]));
  for (const c of chunks) parser.execute(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  return { responses, parser };
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\nHello world';

describe('Http1ResponseParser', () => {
  it('parses pipelined responses in one read, and responses split at every byte', () => {
    expect(parse([OK + OK + OK]).responses).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    const all = OK + OK;
    expect(parse(all.split('')).responses).toEqual([
      [200, true],
      [200, true],
    ]);
  });

  it('honours Connection: close and HTTP/1.0, in any case', () => {
    expect(parse(['HTTP/1.1 503 X\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n']).responses).toEqual([
      [503, false],
    ]);
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n']).responses).toEqual([
      [200, false],
    ]);
    expect(parse(['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok']).responses).toEqual([[200, false]]);
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n', OK]).responses).toEqual([
      [204, true],
      [200, true],
    ]);
  });

  it('frames chunked bodies, split anywhere, with trailers', () => {
    const chunked =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nHello \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n';
    expect(parse([chunked + OK]).responses).toEqual([
      [200, true],
      [200, true],
    ]);
    expect(parse((chunked + OK).split('')).responses).toHaveLength(2);
  });

  it('ends a body delimited by the close only at the close', () => {
    const { responses, parser } = parse(['HTTP/1.1 200 OK\r\n\r\nsome bytes']);
    expect(responses).toEqual([]);
    expect(parser.end()).toBe(true);
    expect(responses).toEqual([[200, false]]);
  });

  it('reports a response cut short, and rejects what it cannot frame', () => {
    const { parser } = parse(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort']);
    expect(parser.end()).toBe(false);
    expect(() => parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'])).toThrow(/bad chunk size/);
  });

  it('copies what it keeps: a shared read buffer may be overwritten between reads', () => {
    const shared = Buffer.alloc(64);
    const responses: number[] = [];
    const parser = new Http1ResponseParser((s) => responses.push(s));
    const head = Buffer.from('HTTP/1.1 201 Created\r\nContent-Le');
    head.copy(shared);
    parser.execute(shared.subarray(0, head.length));
    shared.fill(0);
    const rest = Buffer.from('ngth: 2\r\n\r\nok');
    rest.copy(shared);
    parser.execute(shared.subarray(0, rest.length));
    expect(responses).toEqual([201]);
  });
});
