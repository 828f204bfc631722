import net from 'node:net';

/** How the server ends a connection with a request in flight: a clean close (FIN) or a reset (RST). */
export type CloseMode = 'fin' | 'rst';

export interface ClosingServer {
  port: number;
  url: string;
  /** Connections the server closed (with `mode`) once a request had arrived on them. */
  closed: number;
  close(): Promise<void>;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * A server that never answers: once a request is on a connection it ends it, with a FIN
 * (`socket.end()`) or a RST (`socket.resetAndDestroy()`). An HTTP/1.x request counts from its
 * first byte; an HTTP/2 connection (the client preface) once a HEADERS frame has arrived, so the
 * stream is in flight (with `firstByte`, from any first byte: a client that sends no HEADERS,
 * as the doctor's h2c check). A connection that sends nothing is left to the client (marker dials).
 */
export async function startClosingServer(mode: CloseMode, firstByte = false): Promise<ClosingServer> {
  const sockets = new Set<net.Socket>();
  const state = { closed: 0 };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let done = false;
    s.on('data', (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      if (!(firstByte ? buf.length > 0 : requestArrived(buf))) return;
      done = true;
      state.closed++;
      if (mode === 'fin') s.end();
      else s.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    get closed() {
      return state.closed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP/1.x request's first byte, or an HTTP/2 connection's first HEADERS frame. */
function requestArrived(buf: Buffer): boolean {
  const prefix = buf.subarray(0, Math.min(buf.length, H2_PREFACE.length));
  if (!prefix.equals(H2_PREFACE.subarray(0, prefix.length))) return buf.length > 0;
  // Frames after the preface: 9-byte headers (length 24 bits, type), HEADERS is type 1.
  let at = H2_PREFACE.length;
  while (at + 9 <= buf.length) {
    if (buf[at + 3] === 1) return true;
    at += 9 + buf.readUIntBE(at, 3);
  }
  return false;
}
