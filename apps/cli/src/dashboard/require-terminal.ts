import { NoTerminalError } from '@kalab/core';

const HEADLESS = 'kalab server, kalab loadgen, kalab monitor, kalab scenario, kalab netstat, kalab doctor';

/** The dashboard draws on a terminal; without one, say which commands work headless (exit 2). */
export function requireTerminal(command: string): void {
  if (process.stdin.isTTY && process.stdout.isTTY) return;
  throw new NoTerminalError(
    `${command} needs a terminal (stdin and stdout are not a TTY); without one use the headless commands: ${HEADLESS}`,
  );
}
