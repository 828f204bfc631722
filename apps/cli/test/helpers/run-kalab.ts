import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KALAB = fileURLToPath(new URL('../../bin/kalab.js', import.meta.url));

export interface KalabRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kalab ARGS` to its end (SIGKILL after `timeoutMs`), stdin closed, and collects both streams. */
export function runKalab(args: string[], timeoutMs = 30_000): Promise<KalabRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
