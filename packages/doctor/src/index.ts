export { DOCTOR_DEFAULTS, parseBudget } from './defaults.js';
export { formatDoctor } from './format.js';
export {
  type CloseReason,
  type DoctorObservations,
  type DoctorProbe,
  type DoctorResult,
  doctorJson,
  type ProbeOptions,
  probeKeepAlive,
} from './probe.js';
export { connectFailure, headerValues, type WireResponse } from './probe-connection.js';
export { advertisedTimeoutMs, clientIdleTimeoutMs, recommend } from './recommendations.js';
export type { TlsObservation } from './tls-support.js';
