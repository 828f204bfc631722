import { type ChildProcess, spawn } from 'node:child_process';
import { UnsupportedError } from '@kalab/core';
import { OBSERVE_DEFAULTS } from './defaults.js';

/**
 * tcpdump on the namespace's loopback (or every interface: 'any'), writing `file` (a file in
 * kalab's own temporary directory, see capture-file.ts); resolves once it listens.
 */
export async function startCapture(file: string, iface: 'lo' | 'any' = 'lo'): Promise<ChildProcess> {
  // --immediate-mode and -U: every packet reaches the file before tcpdump is told to stop.
  // -B: a 64 MiB kernel buffer, so a burst of short connections is not dropped on a busy machine.
  // -Z root: tcpdump keeps this process's user instead of switching to its own and chowning the
  // file to it; the file lives in a directory only kalab's user can enter.
  const td = spawn('tcpdump', ['-i', iface, '-n', '-U', '--immediate-mode', '-B', '65536', '-Z', 'root', '-w', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let said = '';
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      td.kill('SIGKILL');
      reject(new UnsupportedError(`--capture: ${why}`));
    };
    const timer = setTimeout(
      () => fail(`tcpdump did not start within ${OBSERVE_DEFAULTS.captureStartMs} ms`),
      OBSERVE_DEFAULTS.captureStartMs,
    );
    td.on('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'ENOENT' ? 'tcpdump is not installed' : `cannot run tcpdump: ${err.message}`),
    );
    td.stderr!.setEncoding('utf8');
    td.stderr!.on('data', (chunk: string) => {
      said += chunk;
      if (/listening on/.test(said)) {
        clearTimeout(timer);
        resolve();
      }
    });
    td.on('exit', () => {
      const line = said.trim().split('\n').at(-1) ?? '';
      const hint = /Couldn't change|Operation not permitted/.test(said)
        ? ' (inside an unprivileged user namespace tcpdump cannot switch users: run kalab observe as root for --capture)'
        : '';
      fail(`tcpdump exited: ${line}${hint}`);
    });
  });
  td.removeAllListeners('exit');
  saidBy.set(td, () => said);
  return td;
}

const saidBy = new WeakMap<ChildProcess, () => string>();

/** Stops tcpdump (SIGINT flushes the file), waits for it to exit, and returns the packets the kernel dropped. */
export async function stopCapture(td: ChildProcess): Promise<number> {
  if (td.exitCode === null && td.signalCode === null) await exited(td);
  const m = /(\d+) packets? dropped by kernel/.exec(saidBy.get(td)?.() ?? '');
  return m ? Number(m[1]) : 0;
}

function exited(td: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => td.kill('SIGKILL'), 5000);
    // 'close': stderr (with the drop count) is read to its end too.
    td.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    td.kill('SIGINT');
  });
}
