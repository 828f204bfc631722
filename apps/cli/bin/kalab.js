#!/usr/bin/env node
import { main } from '../dist/main.js';

main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`kalab: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
