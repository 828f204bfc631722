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

/** One TCP segment as tcpdump printed it: ports and the flags between its brackets (`S`, `S.`, `F.`, `R`...). */
export interface Segment {
  srcPort: number;
  dstPort: number;
  flags: string;
}

const SEGMENT = / IP6? \S+?\.(\d+) > \S+?\.(\d+): Flags \[([^\]]*)\]/;

/**
 * tcpdump on loopback (root) for the segments of one TCP port that `filter` keeps, printed as
 * they are captured. The window is opened and closed by marker dials (a connection that sends
 * nothing): once a marker's SYN is printed, every segment captured before it has been printed
 * too. `segments()` returns what came between the two markers, the markers' own segments
 * excluded. Every wait is on tcpdump's output, not on a clock.
 */
class PortCapture {
  private readonly seen: Segment[] = [];
  private readonly markers = new Set<number>();
  private readonly waiters = new Set<() => void>();
  private from = 0;
  private to = 0;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly dial: () => Promise<string>,
  ) {
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = SEGMENT.exec(line);
        if (m) this.seen.push({ srcPort: Number(m[1]), dstPort: Number(m[2]), flags: m[3]! });
      }
      for (const w of [...this.waiters]) w();
    });
    child.once('exit', () => {
      this.exited = true;
      for (const w of [...this.waiters]) w();
    });
  }

  static async start(port: number, filter: string, options: SynCaptureOptions = {}): Promise<PortCapture> {
    const iface = options.iface ?? 'lo';
    const dial = options.dial ?? (() => dialAndLeave(port));
    // -l and --immediate-mode: every packet is printed as it is captured.
    const child = spawn('tcpdump', ['-i', iface, '-n', '-l', '--immediate-mode', `tcp port ${port} and (${filter})`], {
      stdio: ['ignore', 'pipe', 'pipe'],
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
    const capture = new PortCapture(child, port, dial);
    // "listening on" can come a moment before packets flow: dial until the capture prints a marker's SYN.
    let opened = false;
    for (let attempt = 0; attempt < 50 && !opened; attempt++) opened = await capture.marker(200);
    if (!opened) {
      child.kill('SIGKILL');
      throw new Error('the capture never saw a SYN');
    }
    capture.from = capture.seen.length;
    return capture;
  }

  /** Closes the window: every segment captured before a last marker's SYN is printed. */
  async stop(): Promise<void> {
    const printed = await this.marker(10_000);
    this.child.kill('SIGINT');
    if (!printed) throw new Error('the capture never printed the closing dial');
  }

  /** Segments between the opening and the closing marker, markers' connections excluded. */
  segments(): Segment[] {
    return this.seen
      .slice(this.from, this.to)
      .filter((s) => !this.markers.has(s.srcPort === this.port ? s.dstPort : s.srcPort));
  }

  /** Dials a marker; true once its SYN is printed (the window edge is there), false after `ms`. */
  private async marker(ms: number): Promise<boolean> {
    const source = await this.dial();
    const local = Number(source.slice(source.lastIndexOf('.') + 1));
    this.markers.add(local);
    const at = (): number =>
      this.seen.findIndex((s) => s.srcPort === local && s.dstPort === this.port && s.flags === 'S');
    const printed = await new Promise<boolean>((resolve) => {
      const check = () => {
        if (at() < 0 && !this.exited) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(at() >= 0);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, ms);
      this.waiters.add(check);
      check();
    });
    if (printed) this.to = at();
    return printed;
  }
}

/**
 * Counts client SYNs (SYN without ACK) to `port` on loopback with tcpdump (root), between two
 * marker dials; `stop()` returns the SYNs in between, markers excluded.
 */
export async function startSynCapture(
  port: number,
  options: SynCaptureOptions = {},
): Promise<{ stop: () => Promise<number> }> {
  const capture = await PortCapture.start(
    port,
    'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0',
    options,
  );
  return {
    async stop() {
      await capture.stop();
      return capture.segments().filter((s) => s.dstPort === port && s.flags === 'S').length;
    },
  };
}

/**
 * Counts the FINs and RSTs sent from `port` (a server's) on loopback with tcpdump (root),
 * between two marker dials; the markers' own segments are excluded.
 */
export async function startCloseCapture(port: number): Promise<{ stop: () => Promise<{ fin: number; rst: number }> }> {
  const capture = await PortCapture.start(
    port,
    '(tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0) or tcp[tcpflags] & (tcp-fin|tcp-rst) != 0',
  );
  return {
    async stop() {
      await capture.stop();
      const sent = capture.segments().filter((s) => s.srcPort === port);
      return {
        fin: sent.filter((s) => s.flags.includes('F')).length,
        rst: sent.filter((s) => s.flags.includes('R')).length,
      };
    },
  };
}
