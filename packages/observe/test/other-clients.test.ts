import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing } from '../../../test/support/needs.js';
import { type ObserveReport, observeCommand } from '../src/index.js';
import { cannotCapture, FIXTURES, LAB_SERVER, quiet, tcpdumpSyns } from './helpers.js';

const hasRequests = spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
const skipCapture = cannotCapture();

/** Each client sends 10 GETs to the lab server that --serve starts in the namespace; captured too. */
async function observe(dir: string, name: string, argv: string[]): Promise<ObserveReport> {
  return observeCommand({
    command: quiet(argv),
    serve: 8080,
    labServer: LAB_SERVER,
    capture: join(dir, `${name}.pcap`),
  });
}

describe.skipIf(skipCapture || missing('python3 requests (python3-requests)', hasRequests))(
  'Python requests under kalab observe --serve',
  () => {
    let dir = '';
    let plain: ObserveReport;
    let session: ObserveReport;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kalab-observe-py-'));
      const script = join(FIXTURES, 'python', 'requests_client.py');
      [plain, session] = await Promise.all([
        observe(dir, 'plain', ['python3', script, 'plain']),
        observe(dir, 'session', ['python3', script, 'session']),
      ]);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('requests.get without a Session opens 10 connections for 10 requests', () => {
      expect(plain.exitCode).toBe(0);
      expect(plain.synSent).toBe(10);
      expect(tcpdumpSyns(join(dir, 'plain.pcap'))).toBe(10);
      expect(plain.serve).toMatchObject({
        address: '127.0.0.1:8080',
        connections: 10,
        requests: 10,
        requestsPerConnection: 1,
      });
      expect(plain.lives.map((l) => l.requests)).toEqual(Array(10).fill(1));
      expect(plain.findings.map((f) => f.id)).toContain('observe-no-reuse');
    });

    it('a Session sends 10 requests on 1 connection, which the client closes', () => {
      expect(session.exitCode).toBe(0);
      expect(session.synSent).toBe(1);
      expect(tcpdumpSyns(join(dir, 'session.pcap'))).toBe(1);
      expect(session.serve).toMatchObject({ connections: 1, requests: 10, closedBy: { client: 1 } });
      expect(session.lives).toHaveLength(1);
      expect(session.lives[0]).toMatchObject({
        requests: 10,
        closedBy: 'client',
        closedFirst: 'client',
        timeWait: 'client',
      });
      expect(session.lives[0]?.packets).toMatchObject({ syn: 1, requests: 10 });
    });
  },
);

describe.skipIf(skipCapture)('a Node program under kalab observe --serve', () => {
  let dir = '';
  let keepAlive: ObserveReport;
  let noAgent: ObserveReport;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kalab-observe-node-'));
    const script = join(FIXTURES, 'node', 'http-client.mjs');
    [keepAlive, noAgent] = await Promise.all([
      observe(dir, 'keepalive', [process.execPath, script, 'keepalive']),
      observe(dir, 'close', [process.execPath, script, 'close']),
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('node:http with a keep-alive Agent: 10 requests on 1 connection', () => {
    expect(keepAlive.exitCode).toBe(0);
    expect(keepAlive.synSent).toBe(1);
    expect(tcpdumpSyns(join(dir, 'keepalive.pcap'))).toBe(1);
    expect(keepAlive.serve).toMatchObject({ connections: 1, requests: 10 });
    expect(keepAlive.capture).toMatchObject({ syn: 1, requests: 10 });
  });

  it('node:http with agent: false: 10 connections, 1 request each', () => {
    expect(noAgent.exitCode).toBe(0);
    expect(noAgent.synSent).toBe(10);
    expect(tcpdumpSyns(join(dir, 'close.pcap'))).toBe(10);
    expect(noAgent.serve).toMatchObject({ connections: 10, requests: 10 });
    expect(noAgent.capture).toMatchObject({ syn: 10, requests: 10 });
  });
});
