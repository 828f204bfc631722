// `@kalab/core/options`: what a command line needs to check its flags (the parsers and the
// error classes they throw, the same classes as the root's) without the root's schemas and
// histograms, so `kalab --help` and `kalab netstat` start without loading zod or ws.
export * from './errors.js';
export * from './options.js';
