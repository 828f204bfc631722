import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A property test: every command gets random and hostile flag values (a fixed seed,
 * so a failure reproduces; KALAB_FUZZ_SEED picks another) and must answer with an exit code
 * in {0, 1, 2, 3}, no stack trace and no Node warning on stderr, and exactly one `kalab: ...`
 * line on stderr for exit 2. Every target is loopback (a server of this test, or a port
 * nothing listens on); runs are bounded by -n/-d/--count, and a command still running after
 * its allowance (a server, a monitor, a --watch) is stopped with a signal, which it must
 * also survive without a stack trace.
 */

const KALAB = fileURLToPath(new URL('../bin/kalab.js', import.meta.url));
const SEED = Number(process.env['KALAB_FUZZ_SEED'] ?? 0x16c0ffee);
const CASES_PER_COMMAND = Number(process.env['KALAB_FUZZ_CASES'] ?? 7);

/** mulberry32: small, seeded, good enough to pick from lists. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  '0',
  '1',
  '3',
  '-1',
  '-0',
  '1.5',
  '1e309',
  '1e3',
  '+5',
  '0x10',
  '00010',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '99999999999999999999',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  ' ',
  '١٢',
  '１０',
  '\u202e12',
  '😀',
];
const DURATIONS = [
  '1e309s',
  '-1ms',
  '999999h',
  '999h',
  '99999h',
  '2147483648ms',
  '0',
  '0ms',
  '1us',
  '10ms',
  '100ms',
  '1s',
  '1.5.2s',
  '10 sec',
  '24.9d',
  'NaN',
  '',
  '😀s',
];
const STRINGS = ['', ' ', 'é', '😀', 'a'.repeat(3000), '-x', '--', "'; rm -rf /", '%s%n', '../../etc/passwd'];
const WS_URLS = ['ws://127.0.0.1:1/ws', 'http://127.0.0.1:1/', 'ws://', 'not a url', '', 'ws://[::1]:1/ws'];
const UNKNOWN = ['--bogus', '--connections', '-Z', '--json=yes', '---', '--no-such-flag=1'];

type Kind = readonly string[] | ((r: () => number) => string);
interface Spec {
  command: string;
  /** Positional argument candidates (the first the valid one), or none. */
  positional?: readonly string[];
  /** Long flags that take a value, with their candidates. */
  values: Record<string, Kind>;
  /** Boolean flags. */
  switches: readonly string[];
  /** Flags added when the case lacks them, so nothing runs long. */
  bounds?: (args: string[]) => string[];
  /** Milliseconds a run may take before it is stopped with `signal`. */
  allowanceMs: number;
  signal: NodeJS.Signals;
}

let server: Server;
let target = '';
let dir = '';

function specs(): Spec[] {
  const garbageFile = join(dir, 'garbage.jsonl');
  return [
    {
      command: 'loadgen',
      positional: [target, 'http://127.0.0.1:1/', 'http://[::1]:1/', 'ftp://127.0.0.1/', 'not a url', '', '😀'],
      values: {
        '-c': NUMBERS,
        '-n': NUMBERS,
        '-d': DURATIONS,
        '-R': NUMBERS,
        '-w': ['1', '2', '0', '-1', '257', 'NaN', ''],
        '--engine': ['undici', 'http', 'h2c', 'net', 'curl', '', 'UNDICI'],
        '--close-by': ['client', 'server', 'both', ''],
        '--max-idle': NUMBERS,
        '-p': NUMBERS,
        '--timeout': DURATIONS,
        '--local-address': ['127.0.0.1', '127.0.0.1,::1', '::1', 'nope', '', ',', '127.0.0.1,127.0.0.2'],
        '--monitor': WS_URLS,
        '--token': STRINGS,
        '--name': STRINGS,
      },
      switches: ['--no-keepalive', '--no-consume-body', '--json'],
      bounds: (args) => [...(args.includes('-n') ? [] : ['-n', '20']), ...(args.includes('-d') ? [] : ['-d', '2s'])],
      allowanceMs: 12_000,
      signal: 'SIGINT',
    },
    {
      command: 'server',
      values: {
        '--host': ['127.0.0.1', '::1', 'localhost', '', 'no such host!', '😀', '999.1.1.1'],
        // Port 0 or invalid values only: a fixed port could collide with another test.
        '--port': ['0', '-1', '65536', 'NaN', '', '1e309'],
        '--keep-alive-timeout': DURATIONS,
        '--headers-timeout': DURATIONS,
        '--request-timeout': DURATIONS,
        '--max-requests-per-socket': NUMBERS,
        '--delay-us': NUMBERS,
        '--body-bytes': NUMBERS,
        '--h2c-port': ['0', '-1', '65536', 'x', ''],
        '--monitor': WS_URLS,
        '--token': STRINGS,
      },
      switches: ['--close'],
      bounds: (args) => (args.includes('--port') ? [] : ['--port', '0']),
      allowanceMs: 2500,
      signal: 'SIGTERM',
    },
    {
      command: 'monitor',
      values: {
        '--listen': ['127.0.0.1:0', '[::1]:0', '0', ':0', '127.0.0.1:70000', 'nope', '', '😀:1'],
        '--token': STRINGS,
        '--record': [join(dir, 'runs'), '', '/proc/kalab-cannot-exist/runs', '/dev/null', garbageFile],
        '--heartbeat': DURATIONS,
        '--snapshot-interval': DURATIONS,
      },
      switches: [],
      bounds: (args) => (args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']),
      allowanceMs: 2500,
      signal: 'SIGTERM',
    },
    {
      command: 'netstat',
      values: {
        '--port': ['8080', '0', '-1', '70000', 'NaN', '', '1e309'],
        '--side': ['local', 'remote', 'either', 'up', ''],
        '--pid': [String(process.pid), '1', '0', '-1', '4194305', '99999999999', 'abc', ''],
        '--interval': DURATIONS,
        '--count': NUMBERS,
        '--source': ['auto', 'proc', 'netstat', 'magic', ''],
      },
      switches: ['--json', '--watch'],
      bounds: (args) => (args.includes('--count') ? [] : ['--count', '2']),
      allowanceMs: 3000,
      signal: 'SIGINT',
    },
    {
      command: 'doctor',
      positional: ['http://127.0.0.1:1/', 'https://127.0.0.1:1/', 'ftp://127.0.0.1/', 'not a url', '', '😀'],
      values: { '--budget': DURATIONS },
      switches: ['--json'],
      allowanceMs: 12_000,
      signal: 'SIGINT',
    },
    {
      command: 'report',
      positional: [garbageFile, join(dir, 'missing.jsonl'), dir, '/dev/null', '', '😀'],
      values: { '--rows': NUMBERS },
      switches: [],
      allowanceMs: 5000,
      signal: 'SIGINT',
    },
    {
      command: 'scenario',
      // Names of no scenario (a real one would run for seconds in a namespace), or --list.
      positional: ['no-such-scenario', '', '😀', '../seq-read-body', 'SEQ-READ-BODY '],
      values: {},
      switches: ['--list', '--json', '--faithful'],
      allowanceMs: 8000,
      signal: 'SIGINT',
    },
    {
      command: 'start',
      values: { '--monitor-port': ['7070', '0', '-1', '65536', 'NaN', ''] },
      switches: [],
      allowanceMs: 3000,
      signal: 'SIGTERM',
    },
    {
      command: 'dashboard',
      positional: ['ws://127.0.0.1:1/ws', '127.0.0.1:1', 'not a url', ''],
      values: { '--token': STRINGS },
      switches: [],
      allowanceMs: 3000,
      signal: 'SIGTERM',
    },
  ];
}

interface Case {
  command: string;
  args: string[];
  spec: Spec;
}

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

/** A case: a few flags with hostile values, sometimes `--flag=value`, sometimes an unknown flag. */
function makeCase(spec: Spec, r: () => number): Case {
  const args: string[] = [];
  if (spec.positional && r() < 0.9) args.push(r() < 0.4 ? spec.positional[0]! : pick(r, spec.positional));
  const names = Object.keys(spec.values);
  const n = names.length === 0 ? 0 : 1 + Math.floor(r() * Math.min(4, names.length));
  for (let i = 0; i < n; i++) {
    const flag = pick(r, names);
    const kind = spec.values[flag]!;
    const value = typeof kind === 'function' ? kind(r) : pick(r, kind);
    if (flag.startsWith('--') && r() < 0.3) args.push(`${flag}=${value}`);
    else args.push(flag, value);
  }
  for (const s of spec.switches) if (r() < 0.3) args.push(s);
  if (r() < 0.15) args.push(pick(r, UNKNOWN));
  return { command: spec.command, args: [...args, ...(spec.bounds?.(args) ?? [])], spec };
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stopped: boolean;
  stderr: string;
}

function run(c: Case): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, c.command, ...c.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stderr = '';
    let stopped = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const stop = setTimeout(() => {
      stopped = true;
      child.kill(c.spec.signal);
    }, c.spec.allowanceMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), c.spec.allowanceMs + 10_000);
    child.on('close', (code, signal) => {
      clearTimeout(stop);
      clearTimeout(kill);
      resolve({ code, signal, stopped, stderr });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kalab-hostile-'));
  writeFileSync(join(dir, 'garbage.jsonl'), '{"kind":"run"\nnot json\n\u0000\u00ff\n');
  server = createServer((_req, res) => res.end('Hello world'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe(`kalab with hostile flags (seed ${SEED})`, () => {
  it('every command: exit 0-3, no stack trace or warning, one line for exit 2', { timeout: 600_000 }, async () => {
    const r = rng(SEED);
    const cases = specs().flatMap((s) => Array.from({ length: CASES_PER_COMMAND }, () => makeCase(s, r)));
    const exits = new Map<number | string, number>();
    // Three processes at a time: each case is mostly Node's start-up, which two cores overlap.
    const results: { c: (typeof cases)[number]; res: Awaited<ReturnType<typeof run>> }[] = [];
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3);
      results.push(...(await Promise.all(batch.map(async (c) => ({ c, res: await run(c) })))));
    }
    for (const { c, res } of results) {
      const what = `kalab ${c.command} ${JSON.stringify(c.args)} -> ${res.code ?? res.signal}\n${res.stderr}`;
      exits.set(res.code ?? String(res.signal), (exits.get(res.code ?? String(res.signal)) ?? 0) + 1);
      // A stopped command may also exit 130 (stopped by the user, docs/errors.md), never die of the signal.
      expect(res.signal, what).toBeNull();
      expect(res.stopped ? [0, 1, 2, 3, 130] : [0, 1, 2, 3], what).toContain(res.code);
      expect(res.stderr, what).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
      expect(res.stderr, what).not.toMatch(/internal error|Warning:|\(node:\d+\)/);
      if (res.code === 2) {
        expect(res.stderr.split('\n').filter(Boolean), what).toHaveLength(1);
        expect(res.stderr, what).toMatch(/^kalab: \S/);
      }
    }
    if (process.env['KALAB_FUZZ_VERBOSE']) process.stderr.write(`exit codes: ${JSON.stringify([...exits])}\n`);
    // The test means something only if it reached past the parser and into the runs.
    expect(exits.get(2) ?? 0).toBeGreaterThan(10);
    expect(exits.get(0) ?? 0).toBeGreaterThan(3);
  });
});
