// `@kalab/doctor/defaults`: the probe's defaults alone, for a command line that prints them in
// its help without loading the probe (and what the probe imports).
export { DOCTOR_DEFAULTS } from './defaults.js';
