import { BadOptionError } from '@kalab/core';

/** RFC 9110 token: what a method and a header name may be made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value may hold no CR, LF or NUL (they would split or end the request head). */
const BAD_VALUE = /[\r\n\0]/;

/**
 * Headers the engines own: the framing (Content-Length comes from the body) and the
 * connection's fate (keep-alive or not is `--no-keepalive`'s job). HTTP/2 forbids them too.
 * So the request is the same in every engine but for `Connection`: undici and node:http
 * always add `keep-alive` (HTTP/1.1's default), the raw engines add nothing, and `close` goes
 * out only when the server is to close first (docs/loadgen.md, "Requests"; pinned by
 * request-shape.test.ts).
 */
const ENGINE_OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te']);

/** Methods whose requests carry a body by definition: without `-b` they say `Content-Length: 0` (as undici and node:http do). */
const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The one request every engine sends: the same method, path, headers (in order) and body bytes. */
export interface RequestShape {
  method: string;
  /** Path and query of the target URL. */
  path: string;
  /** The Host header's value (HTTP/2's :authority): the URL's host, or a `-H 'Host: ...'` override. */
  authority: string;
  /** Every header but Host, in the order sent: defaults first (User-Agent, Accept), then the user's, then Content-Length. */
  headers: Array<[string, string]>;
  body: Buffer | null;
  /** A HEAD's response has no body whatever its headers say (the raw engines' parsers must know). */
  head: boolean;
}

/** `-m`: a token of at most 32 bytes (CONNECT would turn the connection into a tunnel). */
export function checkMethod(flag: string, method: unknown): string {
  if (typeof method !== 'string' || !TOKEN.test(method) || method.length > 32)
    throw new BadOptionError(flag, `${flag} must be an HTTP method token (GET, POST, ...), got "${String(method)}"`);
  if (method.toUpperCase() === 'CONNECT')
    throw new BadOptionError(flag, `${flag} CONNECT is not supported (it turns the connection into a tunnel)`);
  return method;
}

/** One `-H 'Name: value'` → [name, value]; the message quotes what was typed. */
export function parseHeaderLine(flag: string, line: string): [string, string] {
  const i = line.indexOf(':');
  const name = i > 0 ? line.slice(0, i).trim() : '';
  if (i <= 0 || !TOKEN.test(name))
    throw new BadOptionError(flag, `${flag} must be 'Name: value', got "${printable(line)}"`);
  return checkHeader(flag, [name, line.slice(i + 1).trim()]);
}

/** A header pair given to the API (or over the agent protocol): a token name, a value without CR/LF/NUL. */
export function checkHeader(flag: string, pair: unknown): [string, string] {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
    throw new BadOptionError(flag, `${flag} entries must be [name, value] pairs of strings`);
  const [name, value] = pair as [string, string];
  if (!TOKEN.test(name)) throw new BadOptionError(flag, `${flag} has a bad header name "${printable(name)}"`);
  if (BAD_VALUE.test(value))
    throw new BadOptionError(flag, `${flag} ${name}: the value holds a CR, LF or NUL ("${printable(value)}")`);
  if (ENGINE_OWNED.has(name.toLowerCase()))
    throw new BadOptionError(
      flag,
      `${flag} ${name} is set by the engine (Content-Length from the body, keep-alive by --no-keepalive)`,
    );
  return [name, value];
}

function printable(s: string): string {
  return s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\0/g, '\\0');
}

/**
 * The request of a run: Host (the URL's, or the user's), User-Agent and Accept unless the
 * user gave them, the user's headers in order, and Content-Length for a body (or 0 for a
 * POST/PUT/PATCH without one).
 */
export function requestShape(
  url: URL,
  method: string,
  userHeaders: ReadonlyArray<readonly [string, string]>,
  body: Uint8Array | null,
): RequestShape {
  let authority = url.host;
  const given = new Set<string>();
  const rest: Array<[string, string]> = [];
  for (const [name, value] of userHeaders) {
    const lower = name.toLowerCase();
    if (lower === 'host') authority = value;
    else rest.push([name, value]);
    given.add(lower);
  }
  const headers: Array<[string, string]> = [];
  if (!given.has('user-agent')) headers.push(['User-Agent', 'kalab']);
  if (!given.has('accept')) headers.push(['Accept', '*/*']);
  headers.push(...rest);
  const bytes = body === null ? null : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes !== null) headers.push(['Content-Length', String(bytes.length)]);
  else if (PAYLOAD_METHODS.has(method.toUpperCase())) headers.push(['Content-Length', '0']);
  return {
    method,
    path: `${url.pathname}${url.search}`,
    authority,
    headers,
    body: bytes,
    head: method.toUpperCase() === 'HEAD',
  };
}

/** The HTTP/1.1 request as bytes (head and body in one buffer, written once per request), for the raw engines. */
export function rawRequest(shape: RequestShape, extraHeaders: ReadonlyArray<[string, string]> = []): Buffer {
  let head = `${shape.method} ${shape.path} HTTP/1.1\r\nHost: ${shape.authority}\r\n`;
  for (const [n, v] of shape.headers) head += `${n}: ${v}\r\n`;
  for (const [n, v] of extraHeaders) head += `${n}: ${v}\r\n`;
  head += '\r\n';
  const h = Buffer.from(head, 'latin1');
  return shape.body === null || shape.body.length === 0 ? h : Buffer.concat([h, shape.body]);
}

/** The same request as node:http raw headers (an array keeps the order and keeps node from adding its own Host). */
export function http1HeaderArray(shape: RequestShape): string[] {
  const out = ['Host', shape.authority];
  for (const [n, v] of shape.headers) out.push(n, v);
  return out;
}
