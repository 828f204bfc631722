#!/usr/bin/env node
// Fills the TCP table of the current network namespace (run it inside `unshare -rn`, never on
// the host): a listener on 127.0.0.1, `--established N` connections held open (2N sockets) and
// `--time-wait M` connections opened and closed by the client first, so each leaves one
// TIME_WAIT socket (no file descriptor needed). Prints one JSON line `{"ready":...}` when done,
// then holds the sockets until stdin closes, SIGTERM/SIGINT, or `--hold` seconds pass.
import net from 'node:net';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const established = arg('established', 1000);
const timeWait = arg('time-wait', 1000);
const concurrency = arg('concurrency', 256);
const holdSeconds = arg('hold', 120);
const port = arg('port', 0);

const server = net.createServer({ allowHalfOpen: false }, (s) => {
  s.on('error', () => {});
  held.push(s);
});
const held = [];
server.listen({ host: '127.0.0.1', port, backlog: 4096 });
await new Promise((r) => server.once('listening', r));
const { port: listenPort } = server.address();

function connect() {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port: listenPort });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

// Held-open connections (ESTABLISHED on both sides).
const clients = [];
for (let i = 0; i < established; i += concurrency) {
  const n = Math.min(concurrency, established - i);
  const batch = await Promise.all(Array.from({ length: n }, connect));
  for (const c of batch) c.on('error', () => {});
  clients.push(...batch);
}

// Connect + close, client first: the client's socket sits in TIME_WAIT for 60 s.
let tw = 0;
let failed = 0;
async function churn() {
  while (tw + failed < timeWait) {
    tw++;
    try {
      const c = await connect();
      await new Promise((resolve) => {
        c.once('close', resolve);
        c.on('error', () => {});
        c.end();
      });
    } catch {
      tw--;
      failed++;
    }
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: Math.min(concurrency, timeWait) }, churn));
// The server side of each churned connection is gone once it saw the client's FIN;
// drop the references so only held-open ones stay.
const stillOpen = held.filter((s) => !s.destroyed);
held.length = 0;
held.push(...stillOpen);

process.stdout.write(
  JSON.stringify({
    ready: true,
    pid: process.pid,
    port: listenPort,
    established: clients.length,
    timeWait: tw,
    failed,
    churnMs: Date.now() - started,
  }) + '\n',
);

function finish() {
  for (const c of clients) c.destroy();
  for (const s of held) s.destroy();
  server.close();
  process.exit(0);
}
const timer = setTimeout(finish, holdSeconds * 1000);
timer.unref();
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
process.stdin.on('end', finish);
process.stdin.on('error', finish);
process.stdin.resume();
// Keep alive until one of the above fires.
setInterval(() => {}, 1 << 30);
