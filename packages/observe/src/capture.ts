import { type ChildProcess, spawn } from 'node:child_process';
import { UnsupportedError } from '@kalab/core';
import { OBSERVE_DEFAULTS } from './defaults.js';

/** tcpdump on the namespace's loopback, writing `file`; resolves once it listens. */
export async function startCapture(file: string): Promise<ChildProcess> {
  // --immediate-mode and -U: every packet reaches the file before tcpdump is told to stop.
  const td = spawn('tcpdump', ['-i', 'lo', '-n', '-U', '--immediate-mode', '-w', file], {
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
  td.stderr!.resume();
  return td;
}

/** Stops tcpdump (SIGINT flushes the file) and waits for it to exit. */
export async function stopCapture(td: ChildProcess): Promise<void> {
  if (td.exitCode !== null || td.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => td.kill('SIGKILL'), 5000);
    td.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    td.kill('SIGINT');
  });
}
