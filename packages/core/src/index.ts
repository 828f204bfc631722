export * from './errors.js';
export * from './options.js';
export * from './version.js';
export * from './report.js';
export * from './protocol.js';
export * from './stats/histogram.js';
export * from './stats/rate-window.js';
export * from './stats/ring-buffer.js';
