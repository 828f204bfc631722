// `@kalab/server/defaults`: the server's defaults and limits alone, for a command line that
// prints them in its help without loading the server (and what it imports).
export { SERVER_DEFAULTS, SERVER_LIMITS } from './defaults.js';
