import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

/**
 * Dials, never sends a byte, and hangs up: a marker connection no request uses. Resolves with
 * its source as tcpdump -n prints it (`127.0.0.1.54321`).
 */
export function dialAndLeave(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    let source = '';
    const s = net.connect(port, host, () => {
      source = `${s.localAddress}.${s.localPort}`;
      s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(source));
  });
}

export interface SynCaptureOptions {
  /** The interface to capture on (default `lo`). */
  iface?: string;
  /**
   * One marker connection to the port whose SYN crosses `iface`, resolving with its source
   * address and port as tcpdump -n prints them (default: a dial to 127.0.0.1).
   */
  dial?: () => Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Counts client SYNs (SYN without ACK) to `port` on an interface (loopback unless told) with
 * tcpdump (root), once per source (a retransmitted SYN is the same connection). Marker dials,
 * told apart by their source port, open the window once the capture is seen to print and close
 * it once every earlier SYN has been printed; `stop()` returns the other sources' SYNs. (Counting
 * lines instead raced: a start marker printed after the window opened counted as one of the test's.)
 */
export async function startSynCapture(
  port: number,
  options: SynCaptureOptions = {},
): Promise<{ stop: () => Promise<number> }> {
  const iface = options.iface ?? 'lo';
  const dial = options.dial ?? (() => dialAndLeave(port));
  const filter = `tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst port ${port}`;
  // -l and --immediate-mode: every packet is printed as it is captured.
  const child: ChildProcess = spawn('tcpdump', ['-i', iface, '-n', '-l', '--immediate-mode', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** Each SYN's source (`addr.port`), in the order tcpdump printed them. */
  const sources: string[] = [];
  const markers = new Set<string>();
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const m = / IP6? (\S+) > \S+: Flags \[S\]/.exec(l);
      if (m) sources.push(m[1]!);
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
  /** Dials a marker and waits up to `ms` for tcpdump to print it: its index in `sources`, or -1. */
  const mark = async (ms: number): Promise<number> => {
    const source = await dial();
    markers.add(source);
    const deadline = Date.now() + ms;
    while (!sources.includes(source) && Date.now() < deadline) await sleep(5);
    return sources.indexOf(source);
  };
  // "listening on" can come a moment before packets flow: dial until the capture prints one.
  let start = -1;
  for (let attempt = 0; attempt < 50 && start < 0; attempt++) start = await mark(200);
  if (start < 0) {
    child.kill('SIGKILL');
    throw new Error('the capture never saw a SYN');
  }
  return {
    async stop() {
      // Once the closing marker is printed, every SYN captured before it is too.
      const end = await mark(10_000);
      child.kill('SIGINT');
      if (end < 0) throw new Error('the capture never printed the closing dial');
      return new Set(sources.slice(start + 1, end).filter((s) => !markers.has(s))).size;
    },
  };
}
