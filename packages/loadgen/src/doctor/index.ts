export { DOCTOR_DEFAULTS, parseBudget } from './defaults.js';
export { formatDoctor } from './format.js';
export {
  type DoctorObservations,
  type DoctorProbe,
  type DoctorResult,
  doctorJson,
  type ProbeOptions,
  probeKeepAlive,
} from './probe.js';
export { advertisedTimeoutMs, clientIdleTimeoutMs, recommend } from './recommendations.js';
export { MAX_HEAD_BYTES, ResponseParser, type WireResponse } from './response-parser.js';
