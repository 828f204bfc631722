import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing } from '../../../test/support/needs.js';

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kalab(args: string[], onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface NetstatJson {
  sockets: { local: string; remote: string; state: string }[];
  states: Record<string, number>;
}

const SS_STATES: Record<string, string> = {
  ESTAB: 'ESTABLISHED',
  'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  UNCONN: 'CLOSE',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
};

/** `[::ffff:127.0.0.1]:80` → `127.0.0.1:80`, `0.0.0.0:*` → `0.0.0.0:0`: the lab's spelling of ss's endpoints. */
function ssEndpoint(text: string): { text: string; port: number } {
  const cut = text.lastIndexOf(':');
  let addr = text.slice(0, cut);
  const portText = text.slice(cut + 1);
  const port = portText === '*' ? 0 : Number(portText);
  if (addr === '*') addr = '0.0.0.0';
  addr = addr.replace(/^\[::ffff:(\d+\.\d+\.\d+\.\d+)\]$/, '$1').replace(/%\w+/, '');
  return { text: `${addr}:${port}`, port };
}

/** `ss -Htan` rows touching `port` (either side), states in the kernel's names. */
function ssRows(port: number, nsPid?: number): { local: string; remote: string; state: string }[] {
  const args = ['-H', '-t', '-a', '-n'];
  const out =
    nsPid === undefined
      ? execFileSync('ss', args, { encoding: 'utf8' })
      : execFileSync('nsenter', [`--net=/proc/${nsPid}/ns/net`, 'ss', ...args], { encoding: 'utf8' });
  const rows: { local: string; remote: string; state: string }[] = [];
  for (const line of out.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 5) continue;
    const local = ssEndpoint(t[3]!);
    const remote = ssEndpoint(t[4]!);
    if (local.port !== port && remote.port !== port) continue;
    rows.push({ local: local.text, remote: remote.text, state: SS_STATES[t[0]!] ?? `ss:${t[0]}` });
  }
  return rows;
}

function countBy(rows: { state: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of rows) c[r.state] = (c[r.state] ?? 0) + 1;
  return c;
}

function nonZero(states: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(states).filter(([, n]) => n > 0));
}

const key = (r: { local: string; remote: string; state: string }) => `${r.local} ${r.remote} ${r.state}`;

let hasSs = false;
try {
  execFileSync('ss', ['-H', '-tan'], { stdio: 'ignore' });
  hasSs = true;
} catch {}

/** Whether this machine has IPv6 on loopback: a listener on ::1 binds. Any other failure in the tests is theirs. */
const hasIpv6 = await new Promise<boolean>((resolve) => {
  const probe = net.createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

let hasNetstat = false;
try {
  execFileSync('netstat', ['-ant'], { stdio: 'ignore' });
  hasNetstat = true;
} catch {}

/**
 * A listener on `host` with: `open` connections held open (2 ESTABLISHED each), `closed`
 * connections closed by the client first (1 TIME_WAIT each, on the client side), and one
 * half-closed by the client (FIN_WAIT2 on the client, CLOSE_WAIT on the server).
 */
async function makeSockets(host: string, open: number, closed: number) {
  const halfOpen = new Set<number>();
  const accepted: net.Socket[] = [];
  const serverClosed: Promise<void>[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    accepted.push(c);
    serverClosed.push(new Promise((r) => c.once('close', () => r())));
    c.on('error', () => {});
    // The server answers a FIN with its own, except on the half-open one.
    c.on('end', () => {
      if (!halfOpen.has(c.remotePort!)) c.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as net.AddressInfo;
  const connect = (allowHalfOpen = false) =>
    new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect({ port, host, allowHalfOpen });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
  const held: net.Socket[] = [];
  for (let i = 0; i < open; i++) held.push(await connect());
  for (let i = 0; i < closed; i++) {
    const c = await connect();
    await new Promise((r) => {
      c.once('close', r);
      c.end();
    });
  }
  const half = await connect(true);
  halfOpen.add(half.localPort!);
  const halfSeen = new Promise<void>((r) => {
    const check = () =>
      accepted.some((a) => a.remotePort === half.localPort && a.readableEnded) ? r() : setTimeout(check, 5);
    check();
  });
  half.end();
  held.push(half);
  // Every closed connection's server side is gone, and the half-open one's FIN has arrived.
  await Promise.all([...serverClosed.slice(open, open + closed), halfSeen]);
  return {
    port,
    close: async () => {
      for (const s of [...held, ...accepted]) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Reads until no socket of `port` is between states (LAST_ACK, FIN_WAIT1, CLOSING): bounded, 2 s. */
async function settled(port: number): Promise<NetstatJson> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const r = await kalab(['netstat', '--port', String(port), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as NetstatJson;
    if ((j.states.LAST_ACK === 0 && j.states.FIN_WAIT1 === 0 && j.states.CLOSING === 0) || Date.now() > deadline)
      return j;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(missing('ss (iproute2) on Linux', hasSs && process.platform === 'linux'))(
  'kalab netstat --port P --json against ss -tan (real loopback sockets)',
  () => {
    const made: Awaited<ReturnType<typeof makeSockets>>[] = [];
    afterAll(async () => {
      for (const m of made) await m.close();
    });

    it('127.0.0.1: 3 open, 4 closed client-first, 1 half-closed count exactly as ss counts them', async () => {
      const m = await makeSockets('127.0.0.1', 3, 4);
      made.push(m);
      const lab = await settled(m.port);
      const ss = ssRows(m.port);
      expect(nonZero(lab.states)).toEqual({ LISTEN: 1, ESTABLISHED: 6, TIME_WAIT: 4, FIN_WAIT2: 1, CLOSE_WAIT: 1 });
      expect(nonZero(lab.states)).toEqual(countBy(ss));
      expect(lab.sockets.map(key).sort()).toEqual(ss.map(key).sort());
      // The side that closed first holds TIME_WAIT: the clients, whose remote port is P.
      for (const s of lab.sockets.filter((x) => x.state === 'TIME_WAIT')) expect(s.remote).toBe(`127.0.0.1:${m.port}`);
      // states are counted over the sockets listed
      expect(Object.values(lab.states).reduce((a, b) => a + b, 0)).toBe(lab.sockets.length);
    });

    it('::1: IPv6 rows print as [::1]:port and count as ss counts them', async (ctx) => {
      if (missing('IPv6 on loopback', hasIpv6)) return ctx.skip();
      const m = await makeSockets('::1', 2, 3);
      made.push(m);
      const lab = await settled(m.port);
      expect(nonZero(lab.states)).toEqual({ LISTEN: 1, ESTABLISHED: 4, TIME_WAIT: 3, FIN_WAIT2: 1, CLOSE_WAIT: 1 });
      expect(nonZero(lab.states)).toEqual(countBy(ssRows(m.port)));
      expect(lab.sockets.map(key).sort()).toEqual(ssRows(m.port).map(key).sort());
      expect(lab.sockets.find((s) => s.state === 'LISTEN')!.local).toBe(`[::1]:${m.port}`);
    });

    it("a dual-stack listener's IPv4 connections print as [::ffff:127.0.0.1]:port in the table, line for line as ss prints them", async (ctx) => {
      if (missing('IPv6 on loopback', hasIpv6)) return ctx.skip();
      const server = net.createServer((c) => c.on('error', () => {}));
      await new Promise<void>((r, j) => server.once('error', j).listen(0, '::', r));
      const { port } = server.address() as net.AddressInfo;
      const clients: net.Socket[] = [];
      try {
        for (let i = 0; i < 2; i++)
          clients.push(
            await new Promise<net.Socket>((r, j) => {
              const c = net.connect({ host: '127.0.0.1', port }, () => r(c));
              c.once('error', j);
            }),
          );
        const r = await kalab(['netstat', '--port', String(port)]);
        expect(r.code).toBe(0);
        const tableRows = r.stdout
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((t) => /^tcp6?$/.test(t[0]!) && t[3] === 'ESTABLISHED')
          .map((t) => `${t[1]} ${t[2]}`)
          .sort();
        const ssText = execFileSync('ss', ['-H', '-t', '-n', 'state', 'established'], { encoding: 'utf8' });
        const ssLines = ssText
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((t) => t.length >= 4 && (t[2]!.endsWith(`:${port}`) || t[3]!.endsWith(`:${port}`)))
          .map((t) => `${t[2]} ${t[3]}`)
          .sort();
        expect(tableRows).toHaveLength(4);
        expect(tableRows).toEqual(ssLines);
        expect(tableRows.filter((x) => x.startsWith(`[::ffff:127.0.0.1]:${port} [::ffff:127.0.0.1]:`))).toHaveLength(2);
      } finally {
        for (const c of clients) c.destroy();
        await new Promise((r) => server.close(r));
      }
    });

    it('prints a table with a summary by state', async () => {
      const m = made[0]!;
      const r = await kalab(['netstat', '--port', String(m.port)]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^Proto\s+Local Address\s+Foreign Address\s+State$/);
      expect(lines.filter((l) => /^tcp\s/.test(l))).toHaveLength(13);
      expect(lines.at(-1)).toBe('ESTABLISHED 6, FIN_WAIT2 1, TIME_WAIT 4, CLOSE_WAIT 1, LISTEN 1 (13 sockets)');
    });

    it('the netstat -an fallback of systems without /proc (--source netstat) lists the same sockets', async (ctx) => {
      if (missing('netstat (net-tools)', hasNetstat)) return ctx.skip();
      const m = made[0]!;
      const viaNetstat = JSON.parse(
        (await kalab(['netstat', '--port', String(m.port), '--json', '--source', 'netstat'])).stdout,
      ) as NetstatJson;
      const viaProc = JSON.parse(
        (await kalab(['netstat', '--port', String(m.port), '--json', '--source', 'proc'])).stdout,
      ) as NetstatJson;
      expect(viaNetstat.sockets.map(key).sort()).toEqual(viaProc.sockets.map(key).sort());
      expect(viaNetstat.states).toEqual(viaProc.states);
    });

    it('--side local keeps the server side only', async () => {
      const m = made[0]!;
      const r = await kalab(['netstat', '--port', String(m.port), '--side', 'local', '--json']);
      expect(nonZero((JSON.parse(r.stdout) as NetstatJson).states)).toEqual({
        LISTEN: 1,
        ESTABLISHED: 3,
        CLOSE_WAIT: 1,
      });
    });
  },
);

describe('kalab netstat --watch', () => {
  let server: net.Server;
  let port = 0;
  beforeAll(async () => {
    server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('--count 3 --json prints three JSON lines and exits 0', async () => {
    const r = await kalab([
      'netstat',
      '--port',
      String(port),
      '--watch',
      '--interval',
      '100ms',
      '--count',
      '3',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect((JSON.parse(l) as NetstatJson).states.LISTEN).toBe(1);
  });

  it('stops quietly when its reader goes away (kalab netstat --watch | head)', async () => {
    const child = spawn(process.execPath, [KALAB, 'netstat', '--port', String(port), '--watch', '--interval', '50ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((r) => child.once('close', r));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('stops on SIGINT with exit 0', async () => {
    let sent = false;
    const r = await kalab(['netstat', '--port', String(port), '--watch', '--interval', '200ms'], (out, child) => {
      if (!sent && out.includes('LISTEN 1')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`127.0.0.1:${port}`);
  });
});

describe('kalab netstat bad input: exit 2 with one line naming the flag', () => {
  it('--port 70000', async () => {
    const r = await kalab(['netstat', '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--port must be an integer from 0 to 65535, got "70000"/);
    expect(r.stdout).toBe('');
  });

  it('--pid of a process that has exited', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    const r = await kalab(['netstat', '--pid', String(pid)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--pid ${pid}: no such process`);
  });

  it.each([
    [
      ['--watch', '--interval', '999h'],
      '--interval must be a duration from 50ms to 2147483647ms (~24.8 days), got "999h"',
    ],
    [
      ['--interval', '1e309s'],
      '--interval must be a duration like 500ms, 10s or 2m (a plain number is seconds), got "1e309s"',
    ],
    [
      ['--watch', '--interval', '10ms'],
      '--interval must be a duration from 50ms to 2147483647ms (~24.8 days), got "10ms"',
    ],
  ])('%j exits 2 with the allowed range, quoting what was typed', async (args, message) => {
    const r = await kalab(['netstat', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kalab: ${message}\n`);
    expect(r.stdout).toBe('');
  });

  it('--pid that is not a number, --side and --interval out of range', async () => {
    for (const [args, flag] of [
      [['--pid', 'abc'], '--pid'],
      [['--pid', '0'], '--pid'],
      [['--side', 'up'], '--side'],
      [['--port', '-1'], '--port'],
      [['--watch', '--interval', 'soon'], '--interval'],
      [['--watch', '--count', '0'], '--count'],
      [['--source', 'magic'], '--source'],
    ] as const) {
      const r = await kalab(['netstat', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
    }
  });
});
