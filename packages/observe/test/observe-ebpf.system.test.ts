import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFinCapture } from '../../../test/support/fin-capture.js';
import { hasCommand, isRoot, missing } from '../../../test/support/needs.js';
import { ObserveReportSchema, observePid, observeTraced, resolveTracer } from '../src/index.js';
import { FIXTURES } from './helpers.js';

const CLIENT = join(FIXTURES, 'short-connections.mjs');

/** A loopback server that closes each connection first (`server`) or answers the client's FIN (`client`). */
function server(closesFirst: 'client' | 'server'): Promise<net.Server> {
  const s = net.createServer((c) => {
    c.on('data', () => {});
    c.on('error', () => {});
    if (closesFirst === 'server') c.end();
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

/** Starts the client program; resolves once it waits for "go" on stdin. */
async function client(port: number, n: number, closesFirst: 'client' | 'server'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLIENT, String(port), String(n), closesFirst], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(l))));
    child.once('exit', (code) => reject(new Error(`client exited ${code} before it was ready`)));
  });
  return child;
}

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)));

/** The cgroup v2 mount (the unified hierarchy), or null. */
function cgroup2Root(): string | null {
  const line = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[2] === 'cgroup2');
  return line?.split(' ')[1] ?? null;
}

const noEbpf =
  missing('root', isRoot()) ||
  missing('bpftrace', hasCommand('bpftrace')) ||
  missing('tcpdump', hasCommand('tcpdump')) ||
  missing('eBPF (BTF and tracefs)', resolveTracer('auto') === 'ebpf');

describe.skipIf(noEbpf)('kalab observe --pid with eBPF: 2,000 connections each a few ms long', () => {
  for (const closesFirst of ['client', 'server'] as const) {
    it(`${closesFirst} closes first: opened and first FINs equal tcpdump's counts exactly`, async () => {
      const srv = await server(closesFirst);
      const port = portOf(srv);
      const capture = await startFinCapture(port);
      const prog = await client(port, 2000, closesFirst);
      const report = await observePid({
        pid: prog.pid!,
        tracer: 'ebpf',
        durationMs: 60_000,
        onAttached: () => prog.stdin!.write('go\n'),
      });
      await exited(prog);
      const wire = await capture.stop();
      srv.close();
      expect(ObserveReportSchema.parse(report)).toEqual(report);
      expect(report.tracer).toBe('ebpf');
      expect(report.lostEvents).toBe(0);
      expect(wire.syns).toBe(2000);
      expect(report.connections.opened).toBe(wire.syns);
      expect(report.closedFirst!.client).toBe(wire.clientFirst);
      expect(report.closedFirst!.server).toBe(wire.serverFirst);
      expect(closesFirst === 'client' ? wire.clientFirst : wire.serverFirst).toBe(2000);
      // The side that closed first holds the TIME_WAIT: here, only when it is the client.
      expect(report.timeWait.total).toBe(closesFirst === 'client' ? 2000 : 0);
    }, 120_000);
  }

  it('--pid on a server: accepted connections, who closed first, and the idle-timeout race', async () => {
    // A server with a 300 ms idle timeout (Node's default is 5 s; undici's pool keeps idle connections 4 s).
    const code = `const s=require('net').createServer(c=>{c.setTimeout(300,()=>c.end());c.on('data',()=>{});c.on('error',()=>{})});s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`;
    const srv = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((r) =>
      createInterface({ input: srv.stdout! }).once('line', (l) => r(Number(l))),
    );
    const capture = await startFinCapture(port);
    const sockets: net.Socket[] = [];
    const report = await observePid({
      pid: srv.pid!,
      tracer: 'ebpf',
      durationMs: 2500,
      onAttached: () => {
        for (let i = 0; i < 5; i++) {
          const s = net.connect(port, '127.0.0.1');
          s.on('data', () => {});
          s.on('error', () => {});
          sockets.push(s);
        }
      },
    });
    const wire = await capture.stop();
    srv.kill();
    for (const s of sockets) s.destroy();
    expect(wire).toEqual({ syns: 5, clientFirst: 0, serverFirst: 5 });
    expect(report.connections.accepted).toBe(5);
    expect(report.server!.accepted).toBe(5);
    expect(report.server!.closedFirst.server).toBe(wire.serverFirst);
    // From accept to the server's FIN: its idle timeout, not the lifetime (the clients stay until destroyed).
    expect(report.server!.serverCloseMedianMs).toBeGreaterThanOrEqual(300);
    expect(report.server!.serverCloseMedianMs).toBeLessThan(1500); // the clients stay 2.5 s: a lifetime would be ~2,500
    expect(report.findings.map((f) => f.id)).toContain('observe-server-idle-race');
  }, 60_000);
});

describe.skipIf(noEbpf)('kalab observe --pid, sampling forced', () => {
  it('says "sampling" and what it can miss', async () => {
    const srv = await server('client');
    const prog = await client(portOf(srv), 50, 'client');
    const report = await observePid({ pid: prog.pid!, tracer: 'sampling', durationMs: 10_000 });
    srv.close();
    expect(report.tracer).toBe('sampling');
    expect(report.limits).toContain('a connection opened and closed between two samples is missed');
    prog.kill();
  }, 30_000);
});

describe.skipIf(noEbpf || missing('a cgroup v2 mount', cgroup2Root() !== null))(
  'kalab observe --cgroup with eBPF',
  () => {
    const dir = join(
      cgroup2Root() ?? '/nonexistent',
      `kalab-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    );
    beforeAll(() => mkdirSync(dir));
    afterAll(() => rmdirSync(dir));

    it("counts both processes' connections", async () => {
      const [a, b] = [await server('client'), await server('client')];
      const [pa, pb] = [portOf(a), portOf(b)];
      const progs = [await client(pa, 30, 'client'), await client(pb, 70, 'client')];
      for (const p of progs) writeFileSync(join(dir, 'cgroup.procs'), String(p.pid));
      const stop = new AbortController();
      void Promise.all(progs.map(exited)).then(() => setTimeout(() => stop.abort(), 200));
      const report = await observeTraced({
        target: { cgroup: dir },
        signal: stop.signal,
        durationMs: 60_000,
        onAttached: () => {
          for (const p of progs) p.stdin!.write('go\n');
        },
      });
      a.close();
      b.close();
      expect(report.cgroup).toBe(dir);
      expect(report.connections.opened).toBe(100);
      const byRemote = Object.fromEntries(report.remotes.map((r) => [r.remote, r.opened]));
      expect(byRemote).toEqual({ [`127.0.0.1:${pa}`]: 30, [`127.0.0.1:${pb}`]: 70 });
    }, 60_000);
  },
);

describe('eBPF where it cannot run', () => {
  it('asked for without BTF or bpftrace: exit-3 error saying what is missing', () => {
    expect(() => resolveTracer('ebpf', { btfPath: '/nonexistent/vmlinux' })).toThrow(/BTF \(\/nonexistent\/vmlinux\)/);
    expect(() => resolveTracer('ebpf', { bpftrace: 'kalab-no-such-bpftrace' })).toThrow(/bpftrace/);
    try {
      resolveTracer('ebpf', { btfPath: '/nonexistent/vmlinux' });
    } catch (err) {
      expect((err as { code: string }).code).toBe('KALAB_ERR_UNSUPPORTED');
    }
    expect(resolveTracer('auto', { btfPath: '/nonexistent/vmlinux' })).toBe('sampling');
  });
});
