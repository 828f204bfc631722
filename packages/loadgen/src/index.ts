export {};
export * from './doctor/index.js';
