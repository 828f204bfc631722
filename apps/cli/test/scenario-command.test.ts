import { afterEach, describe, expect, it, vi } from 'vitest';

// The command only parses and wires: stand the runner in for a result whose verdict failed.
vi.mock('@kalab/scenarios', async (importOriginal) => {
  const real = await importOriginal<typeof import('@kalab/scenarios')>();
  return {
    ...real,
    runScenario: vi.fn(async (name: string) => ({
      scenario: name,
      title: 't',
      origin: 'article',
      section: 's',
      expected: { result: '10 TCP connections', checks: [{ metric: 'connectionsOpened', op: 'eq', value: 10 }] },
      observed: {
        connectionsOpened: 9,
        synSent: 9,
        timeWait: { client: 9, server: 0 },
        errors: {},
        requests: { sent: 10, ok: 10, failed: 0 },
        reusedRequests: 1,
        states: { client: {}, server: {} },
        durationMs: 1,
      },
      pass: false,
      checks: [
        { metric: 'connectionsOpened', op: 'eq', expected: 10, actual: 9, pass: false, skipped: false, says: 'x' },
      ],
      settings: { phases: [], sandbox: [] },
      sandbox: { mode: 'namespace', portRange: null, tcpTwReuse: null },
      faithful: false,
      explanation: 'why',
      durationMs: 1,
    })),
  };
});

const { main } = await import('../src/main.js');

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err.push(String(s));
    return true;
  });
  return { out: () => out.join(''), err: () => err.join('') };
}

describe('kalab scenario (command wiring)', () => {
  it('exits 1 (KALAB_ERR_CHECK_FAILED) when a verdict fails, after printing the result', async () => {
    const io = capture();
    await main(['node', 'kalab', 'scenario', 'seq-unread-body', '--json']);
    expect(process.exitCode).toBe(1);
    expect(JSON.parse(io.out())).toMatchObject({
      scenario: 'seq-unread-body',
      pass: false,
      observed: { connectionsOpened: 9 },
    });
    expect(io.err()).toMatch(/seq-unread-body: the result does not match the expected one/);
  });

  it('exits 2 for --list with a name', async () => {
    const io = capture();
    await main(['node', 'kalab', 'scenario', 'seq-unread-body', '--list']);
    expect(process.exitCode).toBe(2);
    expect(io.err()).toMatch(/--list/);
  });

  it('prints the list as JSON', async () => {
    const io = capture();
    await main(['node', 'kalab', 'scenario', '--list', '--json']);
    expect(process.exitCode ?? 0).toBe(0);
    const names = (JSON.parse(io.out()) as { name: string }[]).map((s) => s.name);
    // The article's four experiments first, then the lab's own and the two TLS scenarios: 12 in all.
    expect(names).toHaveLength(12);
    expect(names.slice(0, 4)).toEqual([
      'seq-unread-body',
      'seq-read-body',
      'concurrent-default-pool',
      'concurrent-tuned-pool',
    ]);
    expect(names).toEqual(expect.arrayContaining(['tls-handshake-per-request', 'tls-session-resumption']));
  });
});
