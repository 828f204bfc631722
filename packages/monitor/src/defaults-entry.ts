// `@kalab/monitor/defaults`: the monitor's defaults and limits alone, for a command line that
// prints them in its help without loading the hub (ws, schemas).
export { MONITOR_DEFAULTS, MONITOR_LIMITS } from './defaults.js';
