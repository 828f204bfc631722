// Helpers for benches that run kalab as separate processes and read their CPU from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KALAB } from './peers.mjs';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** `--name N` from the command line as a number, else `def`. */
export const numberArg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};

/** Starts `kalab ARGS`, added to `children`; resolves once its output matches `waitFor`. */
export function startKalab(children, args, waitFor) {
  const child = spawn(process.execPath, [KALAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      if (waitFor.test(out)) resolve({ child, output: () => out });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`kalab ${args[0]} exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`kalab ${args[0]} not ready: ${out}`)), 20_000);
  });
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
