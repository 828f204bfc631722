import { execFile } from 'node:child_process';
import { platform } from 'node:os';
import { BadOptionError, UnsupportedError } from '../errors.js';
import { parseNetstatAn } from './netstat-an.js';
import { hasProcNet, netDir, type ProcTarget, readProcFile, readProcFileSync } from './proc-files.js';
import { countProcNetTcp, type PortSide, parseProcNetTcp, type RowFilter, type TcpSocket } from './proc-net-tcp.js';
import { emptyStateCounts, type StateCounts } from './tcp-states.js';

export interface TcpTableOptions extends ProcTarget, RowFilter {
  /** Which tables to read: 4 (/proc/net/tcp), 6 (/proc/net/tcp6) or both (default). */
  family?: 4 | 6 | 'all';
  /** Decode the inode column too. */
  inode?: boolean;
  /**
   * `proc` reads procfs; `netstat` runs `netstat -an` and parses it (macOS/BSD, or Linux
   * net-tools); `auto` (default) uses procfs when it exists and netstat otherwise.
   */
  source?: 'auto' | 'proc' | 'netstat';
}

function checkFilter(opts: RowFilter): void {
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535)) {
    throw new BadOptionError('port', `port must be an integer from 0 to 65535, got ${opts.port}`);
  }
  if (opts.side !== undefined && opts.side !== 'local' && opts.side !== 'remote' && opts.side !== 'either') {
    throw new BadOptionError('side', `side must be local, remote or either, got ${String(opts.side)}`);
  }
}

function families(opts: TcpTableOptions): (4 | 6)[] {
  const f = opts.family ?? 'all';
  return f === 'all' ? [4, 6] : [f];
}

function useNetstat(opts: TcpTableOptions): boolean {
  const source = opts.source ?? 'auto';
  if (source === 'netstat') return true;
  if (source === 'proc' || opts.procRoot !== undefined) return false;
  if (hasProcNet({})) return false;
  if (opts.pid !== undefined)
    throw new UnsupportedError('reading another process’s network namespace (pid) needs Linux /proc');
  return true;
}

/**
 * Reads the kernel's TCP table: /proc/net/tcp and /proc/net/tcp6, or those of another
 * process's network namespace (`pid`). With `port`, only matching rows are decoded.
 * Without /proc (macOS, BSD) it runs `netstat -an` and parses that instead.
 */
export async function readTcpTable(opts: TcpTableOptions = {}): Promise<TcpSocket[]> {
  checkFilter(opts);
  if (useNetstat(opts)) return filterRows(parseNetstatAn(await runNetstat()), opts);
  const out: TcpSocket[] = [];
  for (const [buf, family] of await readTables(opts)) for (const s of parseProcNetTcp(buf, family, opts)) out.push(s);
  return out;
}

/** Both tables read concurrently (one thread-pool round trip instead of two). */
async function readTables(opts: TcpTableOptions): Promise<[Buffer, 4 | 6][]> {
  const dir = netDir(opts);
  const fams = families(opts);
  const bufs = await Promise.all(fams.map((f) => readProcFile(`${dir}/tcp${f === 6 ? '6' : ''}`, opts, f === 6)));
  const out: [Buffer, 4 | 6][] = [];
  fams.forEach((f, i) => {
    const b = bufs[i];
    if (b) out.push([b, f]);
  });
  return out;
}

/** Synchronous twin of readTcpTable for procfs (no netstat fallback). */
export function readTcpTableSync(opts: TcpTableOptions = {}): TcpSocket[] {
  checkFilter(opts);
  const dir = netDir(opts);
  const out: TcpSocket[] = [];
  for (const family of families(opts)) {
    const buf = readProcFileSync(`${dir}/tcp${family === 6 ? '6' : ''}`, opts, family === 6);
    if (buf) for (const s of parseProcNetTcp(buf, family, opts)) out.push(s);
  }
  return out;
}

/**
 * Counts sockets by state without building them: the fast path for samplers that only
 * need the summary (the state and the ports are the only columns decoded).
 */
export async function countTcpStates(opts: TcpTableOptions = {}): Promise<StateCounts> {
  checkFilter(opts);
  if (useNetstat(opts)) return countStates(filterRows(parseNetstatAn(await runNetstat()), opts));
  const counts = emptyStateCounts();
  for (const [buf, family] of await readTables(opts)) countProcNetTcp(buf, family, counts, opts);
  return counts;
}

export function countTcpStatesSync(opts: TcpTableOptions = {}): StateCounts {
  checkFilter(opts);
  const dir = netDir(opts);
  const counts = emptyStateCounts();
  for (const family of families(opts)) {
    const buf = readProcFileSync(`${dir}/tcp${family === 6 ? '6' : ''}`, opts, family === 6);
    if (buf) countProcNetTcp(buf, family, counts, opts);
  }
  return counts;
}

/** Keeps the sockets whose local, remote or either (default) port is `port`. */
export function filterByPort(sockets: readonly TcpSocket[], port: number, side: PortSide = 'either'): TcpSocket[] {
  checkFilter({ port, side });
  return sockets.filter((s) =>
    side === 'local'
      ? s.local.port === port
      : side === 'remote'
        ? s.remote.port === port
        : s.local.port === port || s.remote.port === port,
  );
}

/** Counts sockets by kernel state name; every state is present. */
export function countStates(sockets: readonly TcpSocket[]): StateCounts {
  const counts = emptyStateCounts();
  for (const s of sockets) counts[s.state]++;
  return counts;
}

function filterRows(sockets: TcpSocket[], opts: TcpTableOptions): TcpSocket[] {
  let rows = sockets;
  if (opts.family !== undefined && opts.family !== 'all') rows = rows.filter((s) => s.family === opts.family);
  return opts.port === undefined ? rows : filterByPort(rows, opts.port, opts.side);
}

/** `netstat -an` limited to TCP where the platform's netstat can do it. */
function netstatArgs(): string[] {
  const os = platform();
  if (os === 'linux') return ['-ant'];
  if (os === 'win32') return ['-an', '-p', 'TCP'];
  return ['-an', '-p', 'tcp']; // darwin, freebsd, openbsd, netbsd
}

function runNetstat(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('netstat', netstatArgs(), { timeout: 10_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err)
        reject(new UnsupportedError(`no /proc/net/tcp here and \`netstat -an\` failed: ${err.message.split('\n')[0]}`));
      else resolve(stdout);
    });
  });
}
