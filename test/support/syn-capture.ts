import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

/** Dials, never sends a byte, and hangs up: a marker connection no request uses. */
function dialAndLeave(port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => s.end());
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Counts client SYNs (SYN without ACK) to `port` on loopback with tcpdump (root). A marker
 * dial opens the window once the capture is seen to print, and another closes it once every
 * earlier SYN has been printed; `stop()` returns the SYNs in between, markers excluded.
 */
export async function startSynCapture(port: number): Promise<{ stop: () => Promise<number> }> {
  const filter = `tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst port ${port}`;
  // -l and --immediate-mode: every packet is printed as it is captured.
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-n', '-l', '--immediate-mode', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let syns = 0;
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    syns += lines.filter((l) => l.includes(' Flags [S]')).length;
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
  // "listening on" can come a moment before packets flow: dial until the capture sees one.
  for (let attempt = 0; attempt < 50 && syns === 0; attempt++) {
    await dialAndLeave(port);
    const deadline = Date.now() + 200;
    while (syns === 0 && Date.now() < deadline) await sleep(5);
  }
  if (syns === 0) {
    child.kill('SIGKILL');
    throw new Error('the capture never saw a SYN');
  }
  const start = syns;
  return {
    async stop() {
      const before = syns;
      await dialAndLeave(port);
      const deadline = Date.now() + 10_000;
      while (syns === before && Date.now() < deadline) await sleep(5);
      child.kill('SIGINT');
      if (syns === before) throw new Error('the capture never printed the closing dial');
      // Once the closing dial is printed, every SYN before it is too.
      return syns - 1 - start;
    },
  };
}
