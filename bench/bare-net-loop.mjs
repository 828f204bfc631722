#!/usr/bin/env node
// The floor of Node for keep-alive HTTP/1.1: C node:net sockets, one GET written per response,
// read through `onread` into one shared buffer, responses counted by their fixed length (the
// first one's: nginx's `return 200` answers are all the same size). No parser, no stats.
//
//   node bench/bare-net-loop.mjs URL [--connections 50] [--duration 5]
// Prints {"requests": N, "durationMs": T} on stdout.
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '50' }, duration: { type: 'string', default: '5' } },
});
const url = new URL(positionals[0] ?? 'http://127.0.0.1:8080/');
const host = url.hostname.replace(/^\[|\]$/g, '');
const port = Number(url.port || 80);
const request = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: kalab\r\nAccept: */*\r\n\r\n`,
);
const buffer = Buffer.allocUnsafe(64 * 1024);
let responseBytes = 0;
let requests = 0;
let stopped = false;
const sockets = [];
const t0 = performance.now();
for (let i = 0; i < Number(args.connections); i++) {
  let unread = 0;
  const s = connect({
    host,
    port,
    noDelay: true,
    onread: {
      buffer,
      callback: (n) => {
        unread += n;
        // The first response of the run gives the size of every response.
        if (responseBytes === 0) responseBytes = n;
        while (unread >= responseBytes) {
          unread -= responseBytes;
          requests++;
          if (!stopped) s.write(request);
        }
      },
    },
  });
  s.once('connect', () => s.write(request));
  s.on('error', () => {});
  sockets.push(s);
}
setTimeout(() => {
  stopped = true;
  const durationMs = performance.now() - t0;
  for (const s of sockets) s.destroy();
  process.stdout.write(`${JSON.stringify({ requests, durationMs })}\n`);
}, Number(args.duration) * 1000);
