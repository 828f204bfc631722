import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

/** What tcpdump saw of the connections to one port: client SYNs, and per connection who sent the first FIN. */
export interface FinCount {
  syns: number;
  clientFirst: number;
  serverFirst: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Dials and hangs up at once; resolves with the local port once the connection is closed. */
function marker(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end());
    let local = 0;
    s.on('connect', () => {
      local = s.localPort ?? 0;
    });
    s.on('data', () => {});
    s.on('error', reject);
    s.on('close', () => resolve(local));
  });
}

const LINE = /IP6? \S+?\.(\d+) > \S+?\.(\d+): Flags \[([^\]]+)\]/;

/**
 * Counts, with tcpdump on loopback (root), the client SYNs to `port` and which side sent each
 * connection's first FIN. Marker dials open and close the window (as in syn-capture.ts): only
 * connections whose SYN came after the opening marker was printed and before the closing one count.
 */
export async function startFinCapture(port: number): Promise<{ stop: () => Promise<FinCount> }> {
  const filter = `tcp port ${port} and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0`;
  // -B: a 64 MiB kernel buffer, so a burst of short connections on a busy machine is not dropped.
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-n', '-l', '--immediate-mode', '-B', '65536', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** One record per client SYN, in capture order: its client port and who sent the first FIN. */
  const conns: Array<{ port: number; first: 'client' | 'server' | null }> = [];
  const latest = new Map<number, number>();
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const m = LINE.exec(l);
      if (!m) continue;
      const [src, dst, flags] = [Number(m[1]), Number(m[2]), m[3]!];
      if (flags === 'S' && dst === port) {
        latest.set(src, conns.length);
        conns.push({ port: src, first: null });
      } else if (flags.includes('F')) {
        const client = src === port ? dst : src;
        const i = latest.get(client);
        if (i !== undefined && conns[i]!.first === null) conns[i]!.first = src === port ? 'server' : 'client';
      }
    }
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  for (let attempt = 0; attempt < 50 && conns.length === 0; attempt++) {
    await marker(port);
    const deadline = Date.now() + 200;
    while (conns.length === 0 && Date.now() < deadline) await sleep(5);
  }
  if (conns.length === 0) {
    child.kill('SIGKILL');
    throw new Error('the capture never saw a SYN');
  }
  const start = conns.length;
  return {
    async stop() {
      const closing = await marker(port);
      const deadline = Date.now() + 10_000;
      const closed = () => {
        const i = latest.get(closing);
        return i !== undefined && i >= start && conns[i]!.first !== null;
      };
      while (!closed() && Date.now() < deadline) await sleep(5);
      const exit = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exit;
      if (!closed()) throw new Error('the capture never printed the closing dial');
      // A count with holes is no reference: say so rather than compare against it.
      const dropped = Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? 'NaN');
      if (dropped !== 0)
        throw new Error(`tcpdump's count is not exact: ${err.trim().split('\n').slice(-3).join('; ')}`);
      const seen = conns.slice(start, latest.get(closing));
      return {
        syns: seen.length,
        clientFirst: seen.filter((c) => c.first === 'client').length,
        serverFirst: seen.filter((c) => c.first === 'server').length,
      };
    },
  };
}
