import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { missing } from '../../../test/support/needs.js';
import { countStates, formatEndpoint, parseNetstatAn, readTcpTable } from '../src/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/netstat/${name}`, import.meta.url), 'utf8');
const ends = (rows: ReturnType<typeof parseNetstatAn>) =>
  rows.map((s) => `${formatEndpoint(s.local)} ${formatEndpoint(s.remote)} ${s.state}`);

describe('parseNetstatAn', () => {
  it('reads macOS rows: dot before the port, tcp4/tcp6/tcp46, BSD state names mapped to the kernel’s', () => {
    const rows = parseNetstatAn(fixture('macos-netstat-an.txt'));
    expect(ends(rows)).toEqual([
      '127.0.0.1:8080 127.0.0.1:51000 TIME_WAIT',
      '127.0.0.1:51001 127.0.0.1:8080 ESTABLISHED',
      '127.0.0.1:8080 127.0.0.1:51001 ESTABLISHED',
      '[::1]:8080 [::1]:51002 FIN_WAIT2',
      '[::1]:51002 [::1]:8080 CLOSE_WAIT',
      '192.168.1.20:51010 140.82.112.4:443 FIN_WAIT1',
      '192.168.1.20:51011 140.82.112.4:443 SYN_SENT',
      '127.0.0.1:8080 127.0.0.1:51012 SYN_RECV',
      '127.0.0.1:8080 127.0.0.1:51013 LAST_ACK',
      '127.0.0.1:51014 127.0.0.1:8080 CLOSING',
      '127.0.0.1:51015 127.0.0.1:8080 CLOSE',
      '127.0.0.1:51016 127.0.0.1:8080 TIME_WAIT',
      '127.0.0.1:8080 127.0.0.1:51017 ESTABLISHED',
      '[::]:8080 [::]:0 LISTEN',
      '127.0.0.1:8080 0.0.0.0:0 LISTEN',
      '[fe80::1%lo0]:8080 [::]:0 LISTEN',
      '0.0.0.0:22 0.0.0.0:0 LISTEN',
      '[2001:db8::a]:443 [2001:db8::b]:60000 ESTABLISHED',
    ]);
    expect(rows.map((r) => r.family).join('')).toBe('444664444444664646');
    // udp, icm6, unix sockets and the multipath header are not TCP rows.
    expect(countStates(rows)).toMatchObject({ ESTABLISHED: 4, TIME_WAIT: 2, LISTEN: 4, CLOSE: 1 });
  });

  it('reads FreeBSD rows', () => {
    expect(ends(parseNetstatAn(fixture('freebsd-netstat-an.txt')))).toEqual([
      '127.0.0.1:8080 127.0.0.1:23456 TIME_WAIT',
      '[::1]:8080 [::1]:23457 ESTABLISHED',
      '[::1]:23457 [::1]:8080 ESTABLISHED',
      '[::]:8080 [::]:0 LISTEN',
      '0.0.0.0:22 0.0.0.0:0 LISTEN',
    ]);
  });

  it('reads Linux net-tools rows (colon before the port, :::8082, ::ffff: mapped)', () => {
    expect(ends(parseNetstatAn(fixture('linux-netstat-ant.txt')))).toEqual([
      '127.0.0.1:8080 0.0.0.0:0 LISTEN',
      '0.0.0.0:2024 0.0.0.0:0 LISTEN',
      '127.0.0.1:44164 127.0.0.1:8080 ESTABLISHED',
      '127.0.0.1:44170 127.0.0.1:8080 TIME_WAIT',
      '127.0.0.1:44186 127.0.0.1:8080 FIN_WAIT2',
      '127.0.0.1:8080 127.0.0.1:44164 ESTABLISHED',
      '127.0.0.1:8080 127.0.0.1:44186 CLOSE_WAIT',
      '[::]:8082 [::]:0 LISTEN',
      '[::1]:8081 [::]:0 LISTEN',
      '127.0.0.1:8082 127.0.0.1:46318 ESTABLISHED',
      '[::1]:53148 [::1]:8081 ESTABLISHED',
      '[::1]:53150 [::1]:8081 TIME_WAIT',
    ]);
  });

  it('reads Windows rows (LISTENING, [::1]:8080)', () => {
    expect(ends(parseNetstatAn(fixture('windows-netstat-an.txt')))).toEqual([
      '0.0.0.0:135 0.0.0.0:0 LISTEN',
      '127.0.0.1:8080 127.0.0.1:51000 TIME_WAIT',
      '127.0.0.1:51001 127.0.0.1:8080 ESTABLISHED',
      '[::]:8080 [::]:0 LISTEN',
      '[::1]:8080 [::1]:51002 ESTABLISHED',
      '192.168.1.20:51010 140.82.112.4:443 FIN_WAIT1',
    ]);
  });

  it('skips what it cannot read instead of throwing', () => {
    expect(parseNetstatAn('')).toEqual([]);
    expect(
      parseNetstatAn('tcp4 0 0 nonsense also-nonsense ESTABLISHED\ntcp4 0 0 1.2.3.4.5 6.7.8.9.10 WEIRD\n'),
    ).toEqual([]);
  });
});

let hasNetstat = false;
try {
  execFileSync('netstat', ['--version'], { stdio: 'ignore' });
  hasNetstat = true;
} catch {}

describe.skipIf(missing('netstat (net-tools) on Linux', hasNetstat && process.platform === 'linux'))(
  'the netstat fallback on this machine',
  () => {
    it('lists a listener and a connection of ours exactly as /proc does', async () => {
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as net.AddressInfo;
      const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const client = net.connect(port, '127.0.0.1');
      await new Promise((r) => client.once('connect', r));
      const peer = await accepted;
      try {
        const viaProc = ends(await readTcpTable({ source: 'proc', port })).sort();
        const viaNetstat = ends(await readTcpTable({ source: 'netstat', port })).sort();
        expect(viaProc).toHaveLength(3);
        expect(viaNetstat).toEqual(viaProc);
      } finally {
        client.destroy();
        peer.destroy();
        server.close();
      }
    });
  },
);
