export * from './errors.js';
export * from './http1/index.js';
export * from './options.js';
export * from './stats/counter-rate.js';
export * from './stats/histogram.js';
export * from './stats/ring-buffer.js';
export * from './tcp/index.js';
export * from './version.js';
