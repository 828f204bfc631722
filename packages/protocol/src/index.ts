export * from './agent-caps.js';
export * from './findings.js';
export * from './limits.js';
export * from './monitor-link.js';
export * from './protocol.js';
export * from './report.js';
