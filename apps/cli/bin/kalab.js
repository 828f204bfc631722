#!/usr/bin/env node
import { reportError } from '../dist/cli-error.js';
import { main } from '../dist/main.js';

// An error that escapes every command is a bug: exit 70 with how to report it, never 1
// ("the run failed its checks") and never Node's bare stack trace.
const crash = (err) => {
  process.exitCode = reportError(err);
  process.exit();
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

main(process.argv).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
}, crash);
