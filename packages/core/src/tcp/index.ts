// `@kalab/core/tcp` stands alone: its errors come with it (the same classes as the root's).
export * from '../errors.js';
export * from './ephemeral.js';
export * from './kernel-counters.js';
export * from './netstat-an.js';
export * from './netstat-view.js';
export { hasProcNet, type ProcTarget } from './proc-files.js';
export {
  countProcNetTcp,
  formatEndpoint,
  formatIPv6Bytes,
  type ParseOptions,
  type PortSide,
  parseProcNetTcp,
  type RowFilter,
  scanProcNetTcp,
  type TcpEndpoint,
  type TcpSocket,
} from './proc-net-tcp.js';
export * from './tcp-sample.js';
export * from './tcp-states.js';
export * from './tcp-table.js';
