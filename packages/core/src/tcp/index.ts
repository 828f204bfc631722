export * from './tcp-states.js';
export {
  type TcpEndpoint,
  type TcpSocket,
  type PortSide,
  type RowFilter,
  type ParseOptions,
  parseProcNetTcp,
  countProcNetTcp,
  scanProcNetTcp,
  formatEndpoint,
  formatIPv6Bytes,
} from './proc-net-tcp.js';
export { type ProcTarget, hasProcNet } from './proc-files.js';
export * from './tcp-table.js';
export * from './ephemeral.js';
export * from './kernel-counters.js';
export * from './netstat-an.js';
export * from './netstat-view.js';
export * from './tcp-sample.js';
// `@kalab/core/tcp` stands alone: its errors come with it (the same classes as the root's).
export * from '../errors.js';
