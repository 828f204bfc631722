import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadOptionError,
  countProcNetTcp,
  countStates,
  countTcpStates,
  countTcpStatesSync,
  emptyStateCounts,
  filterByPort,
  formatEndpoint,
  formatIPv6Bytes,
  normalizeTcpState,
  ParseError,
  parseProcNetTcp,
  readTcpTable,
  readTcpTableSync,
} from '../src/index.js';

const procRoot = fileURLToPath(new URL('./fixtures/proc', import.meta.url));
const tcp = readFileSync(`${procRoot}/net/tcp`);
const tcp6 = readFileSync(`${procRoot}/net/tcp6`);
const ends = (rows: ReturnType<typeof parseProcNetTcp>) =>
  rows.map((s) => `${formatEndpoint(s.local)} ${formatEndpoint(s.remote)} ${s.state}`);

describe('parseProcNetTcp on real /proc/net/tcp lines', () => {
  const rows = parseProcNetTcp(tcp, 4);

  it('decodes little-endian IPv4 words and hex ports: 0100007F:1F90 is 127.0.0.1:8080', () => {
    expect(rows).toHaveLength(15);
    expect(rows[0]).toEqual({
      local: { address: '0.0.0.0', port: 2024 },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      family: 4,
    });
    expect(ends(rows.slice(1, 8))).toEqual([
      '127.0.0.1:8080 0.0.0.0:0 LISTEN',
      '127.0.0.1:44164 127.0.0.1:8080 ESTABLISHED',
      '127.0.0.1:44170 127.0.0.1:8080 TIME_WAIT',
      '127.0.0.1:44186 127.0.0.1:8080 FIN_WAIT2',
      '127.0.0.1:8080 127.0.0.1:44164 ESTABLISHED',
      '127.0.0.1:8080 127.0.0.1:44186 CLOSE_WAIT',
      '127.0.0.1:36997 127.0.0.1:48180 TIME_WAIT',
    ]);
  });

  it('names all eleven kernel states', () => {
    const c = countStates(rows);
    expect(c).toEqual({
      ESTABLISHED: 2,
      SYN_SENT: 1,
      SYN_RECV: 1,
      FIN_WAIT1: 1,
      FIN_WAIT2: 1,
      TIME_WAIT: 2,
      CLOSE: 1,
      CLOSE_WAIT: 1,
      LAST_ACK: 1,
      LISTEN: 3,
      CLOSING: 1,
    });
  });

  it('keeps reading when the sl column grows past four digits (tables of 10,000+ rows)', () => {
    expect(ends(rows.slice(-1))).toEqual(['127.0.0.1:8080 0.0.0.0:0 LISTEN']);
  });

  it('reads the inode only when asked (0 for TIME_WAIT rows)', () => {
    expect(rows[1]!.inode).toBeUndefined();
    const withInode = parseProcNetTcp(tcp, 4, { inode: true });
    expect(withInode.slice(0, 4).map((s) => s.inode)).toEqual([624, 292919, 292922, 0]);
  });

  it('filters by port before decoding: local, remote or either side', () => {
    expect(parseProcNetTcp(tcp, 4, { port: 8080, side: 'local' })).toHaveLength(4);
    expect(parseProcNetTcp(tcp, 4, { port: 8080, side: 'remote' })).toHaveLength(3);
    expect(parseProcNetTcp(tcp, 4, { port: 8080 })).toHaveLength(7);
    expect(filterByPort(rows, 8080)).toEqual(parseProcNetTcp(tcp, 4, { port: 8080 }));
    expect(parseProcNetTcp(tcp, 4, { port: 8080, limit: 2 })).toHaveLength(2);
  });

  it('counts without building rows and agrees with parse + countStates', () => {
    for (const filter of [
      {},
      { port: 8080 },
      { port: 8080, side: 'local' as const },
      { port: 2024, side: 'remote' as const },
    ]) {
      const counts = emptyStateCounts();
      const n = countProcNetTcp(tcp, 4, counts, filter);
      const parsed = parseProcNetTcp(tcp, 4, filter);
      expect(counts).toEqual(countStates(parsed));
      expect(n).toBe(parsed.length);
    }
  });

  it('rejects a line that is not in the kernel format with a ParseError', () => {
    expect(() => parseProcNetTcp('  sl  local_address\n   0: 0100007F-1F90 00000000:0000 0A\n', 4)).toThrow(ParseError);
    expect(() =>
      parseProcNetTcp('  sl  local_address\n   0: 0100007F:1F90 00000000:0000 0Z 00000000:00000000\n', 4),
    ).toThrow(ParseError);
    expect(() => parseProcNetTcp('  sl  local_address\ngarbage\n', 4)).toThrow(/unexpected line in \/proc\/net\/tcp/);
    expect(parseProcNetTcp('  sl  local_address\n\n', 4)).toEqual([]);
    expect(parseProcNetTcp('', 4)).toEqual([]);
  });
});

describe('parseProcNetTcp on real /proc/net/tcp6 lines', () => {
  const rows = parseProcNetTcp(tcp6, 6);

  it('decodes ::, ::1, IPv4-mapped addresses (shown as IPv4), global and link-local ones', () => {
    expect(ends(rows)).toEqual([
      '[::]:8082 [::]:0 LISTEN',
      '[::1]:8081 [::]:0 LISTEN',
      '127.0.0.1:8082 127.0.0.1:46318 ESTABLISHED',
      '[::1]:53148 [::1]:8081 ESTABLISHED',
      '[::1]:53150 [::1]:8081 TIME_WAIT',
      '[::1]:8081 [::1]:53148 ESTABLISHED',
      '[2001:db8::1]:8081 [::1]:53148 ESTABLISHED',
      '[fe80::2ff:fed1:54d]:8082 [::]:0 LISTEN',
    ]);
    expect(rows.every((r) => r.family === 6)).toBe(true);
  });

  it('decodes addresses that only look like the fast paths (zero first words)', () => {
    const line = (a: string, r: string) =>
      `  sl  local_address remote_address st\n   0: ${a}:1F90 ${r}:0050 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n`;
    const one = (a: string, r: string) => ends(parseProcNetTcp(line(a, r), 6))[0];
    expect(one('00000000000000000100000001000000', '0000000000000000FFFF00000A00000A')).toBe(
      '[::1:0:1]:8080 10.0.0.10:80 ESTABLISHED',
    );
    expect(one('0000000000000000FFFF0000FFFFFFFF', '000000000000000000000000FFFF0000')).toBe(
      '255.255.255.255:8080 [::ffff]:80 ESTABLISHED',
    );
    expect(one('00000000000000010000000000000000', 'B80D0120000000000000000000000000')).toBe(
      '[0:0:100::]:8080 [2001:db8::]:80 ESTABLISHED',
    );
  });
});

describe('formatIPv6Bytes', () => {
  const bytes = (groups: number[]) => groups.flatMap((g) => [g >> 8, g & 255]);
  it('compresses the longest run of zero groups, the first one on a tie (RFC 5952)', () => {
    expect(formatIPv6Bytes(bytes([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]))).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6Bytes(bytes([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]))).toBe('2001:db8:0:1::1');
    expect(formatIPv6Bytes(bytes([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6Bytes(bytes([0, 0, 0, 0, 0, 0, 0, 0]))).toBe('::');
    expect(formatIPv6Bytes(bytes([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]))).toBe('10.0.0.1');
    expect(formatIPv6Bytes(bytes([0xfe80, 0, 0, 0, 0, 0, 0, 1]))).toBe('fe80::1');
  });
});

describe('normalizeTcpState', () => {
  it('maps ss and BSD names to the kernel’s', () => {
    expect(normalizeTcpState('ESTAB')).toBe('ESTABLISHED');
    expect(normalizeTcpState('TIME-WAIT')).toBe('TIME_WAIT');
    expect(normalizeTcpState('FIN_WAIT_1')).toBe('FIN_WAIT1');
    expect(normalizeTcpState('SYN_RCVD')).toBe('SYN_RECV');
    expect(normalizeTcpState('CLOSED')).toBe('CLOSE');
    expect(normalizeTcpState('SYN_RECEIVED')).toBe('SYN_RECV');
    expect(normalizeTcpState('LISTEN')).toBe('LISTEN');
    expect(normalizeTcpState('BOGUS')).toBeUndefined();
  });
});

describe('readTcpTable from a procfs root', () => {
  it('reads tcp and tcp6 together', async () => {
    const rows = await readTcpTable({ procRoot });
    expect(rows).toHaveLength(15 + 8);
    expect(readTcpTableSync({ procRoot })).toEqual(rows);
    expect(await countTcpStates({ procRoot, port: 8081 })).toMatchObject({ ESTABLISHED: 3, TIME_WAIT: 1, LISTEN: 1 });
    expect(countTcpStatesSync({ procRoot, family: 4 })).toEqual(countStates(rows.filter((r) => r.family === 4)));
  });

  it('reads another process’s namespace through /proc/<pid>/net (no tcp6 there: IPv6 off)', async () => {
    const rows = await readTcpTable({ procRoot, pid: 4242 });
    expect(ends(rows)).toEqual(['127.0.0.1:8080 0.0.0.0:0 LISTEN', '127.0.0.1:1025 127.0.0.1:8080 TIME_WAIT']);
  });

  it('answers a missing pid with BadOptionError naming pid', async () => {
    await expect(readTcpTable({ procRoot, pid: 999 })).rejects.toThrow(BadOptionError);
    await expect(readTcpTable({ procRoot, pid: 999 })).rejects.toMatchObject({ option: 'pid' });
    expect(() => readTcpTableSync({ procRoot, pid: 999 })).toThrow(/no process with pid 999/);
    await expect(readTcpTable({ procRoot, port: 70_000 })).rejects.toMatchObject({ option: 'port' });
  });
});

describe('readTcpTable on this host (real sockets)', () => {
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];
  let port4 = 0;
  let client: net.Socket;

  beforeAll(async () => {
    const s = net.createServer((c) => sockets.push(c));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    port4 = (s.address() as net.AddressInfo).port;
    const accepted = new Promise((r) => s.once('connection', r));
    client = net.connect(port4, '127.0.0.1');
    sockets.push(client);
    await Promise.all([new Promise((r) => client.once('connect', r)), accepted]);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('sees a listener and both ends of a connection on 127.0.0.1', async () => {
    const rows = await readTcpTable({ port: port4 });
    expect(ends(rows).sort()).toEqual(
      [
        `127.0.0.1:${port4} 0.0.0.0:0 LISTEN`,
        `127.0.0.1:${client.localPort} 127.0.0.1:${port4} ESTABLISHED`,
        `127.0.0.1:${port4} 127.0.0.1:${client.localPort} ESTABLISHED`,
      ].sort(),
    );
    expect(await countTcpStates({ port: port4 })).toMatchObject({ LISTEN: 1, ESTABLISHED: 2 });
  });

  it('reads /proc/<own pid>/net like /proc/net', async () => {
    const rows = await readTcpTable({ port: port4, pid: process.pid });
    expect(rows).toHaveLength(3);
  });
});
