/**
 * The shape of a scenario: the article's experiments and the lab's own, as data.
 * A runner (the CLI's `kalab scenario`) turns each phase into a server, a client and a
 * sandbox; the checks then compare what it observed with what the article reported.
 */

/** Which client the runner drives for a phase; each one is a few lines of node:http, undici or http2. */
type ScenarioDriver =
  /** node:http Agent workers: sequential or concurrent requests, pool limits, who closes. */
  | 'http-pool'
  /** High-concurrency client that closes every connection itself after one response. */
  | 'exhaustion'
  /** One HTTP/2 session over cleartext, many concurrent streams. */
  | 'h2c'
  /** undici Pool requests whose bodies may be left unread. */
  | 'undici'
  /** Requests timed at the server's idle-close boundary on reused sockets. */
  | 'race'
  /** kalab loadgen --engine http over https:// (a node:http Agent on TLS sockets, as https.Agent). */
  | 'tls';

/** What the client does. Every run is bounded by `requests` × `concurrency` and the phase's `timeoutMs`. */
export interface ClientSettings {
  /** Requests each worker sends, one after another. */
  requests: number;
  /** Workers sending at the same time (goroutines in the article). */
  concurrency: number;
  /** Reuse connections at all. */
  keepAlive: boolean;
  /** Idle connections the pool keeps per host; null = unlimited. */
  maxIdle: number | null;
  /** Read each response body to the end. */
  consumeBody: boolean;
  /** Pause between two requests of a worker: short by default, with the same outcome as the article's. */
  gapMs: number;
  /** The article's pause (1 s), used with --faithful. */
  faithfulGapMs?: number;
  /** How long the client keeps an idle connection; null = until the server closes it (Go's 90 s IdleConnTimeout is "forever" here). */
  idleTimeoutMs?: number | null;
  /** Use the server's `Keep-Alive: timeout=N` hint to drop idle connections in time. */
  honourKeepAliveHint?: boolean;
  /** Retry an idempotent request once when a reused connection was reset. */
  retryIdempotent?: boolean;
  /** At the end, who closes the connections that are still open. */
  closeAtEnd?: 'client' | 'none';
  /** TLS: offer the previous session on each new connection (tickets or IDs). */
  tlsResume?: boolean;
}

/** How the lab server behaves (createLabServer options). */
interface ServerSettings {
  /** Idle time after which the server closes a kept-alive connection. */
  keepAliveTimeoutMs?: number;
  /** The server closes a connection after this many requests. */
  maxRequestsPerSocket?: number;
  /** Answer every request with `Connection: close` (the server closes first). */
  close?: boolean;
  /** Response body size; the article's server answers "Hello world" (11 bytes). */
  bodyBytes?: number;
  /** Per-request delay, like the article's 50 µs sleep. */
  delayUs?: number;
  /** Also listen for HTTP/2 over cleartext. */
  h2c?: boolean;
  /** Serve HTTPS (a certificate generated for the phase, like kalab server --tls). */
  tls?: boolean;
}

/** The private network namespace the run happens in. */
export interface SandboxSettings {
  /** 'required': refuse to run on the host loopback (it would exhaust the host's ports). */
  namespace: 'required' | 'preferred';
  /** net.ipv4.ip_local_port_range inside the namespace. */
  portRange?: [number, number];
  /** net.ipv4.tcp_tw_reuse inside the namespace (0 = TIME_WAIT ports are never reused for connect()). */
  tcpTwReuse?: 0 | 1 | 2;
}

export interface ScenarioPhase {
  /** Short id, the key under `observed.phases` when a scenario has more than one phase. */
  name: string;
  title: string;
  driver: ScenarioDriver;
  client: ClientSettings;
  server: ServerSettings;
  /** Hard bound for the phase's client, whatever happens. */
  timeoutMs: number;
}

export type CheckOp = 'eq' | 'gt' | 'gte' | 'lt' | 'lte';

/** One comparison against an observed metric (a dotted path into `observed`). */
export interface ScenarioCheck {
  metric: string;
  op: CheckOp;
  /** A number, or another observed metric (`{ metric: 'synSent' }`), optionally scaled (`factor: 0.95`). */
  value: number | { metric: string; factor?: number };
  /** What the check means, in the article's or the lab's words. */
  says: string;
  /** Counts that only a private namespace makes exact (the host's counters include everyone else). */
  namespaceOnly?: boolean;
}

/** One setting as shown to the user, with its Go and Node names. */
export interface ScenarioSetting {
  label: string;
  value: string;
  go: string;
  node: string;
}

export interface ScenarioDefinition {
  name: string;
  title: string;
  /** 'article': an experiment of the article; 'lab': one the lab adds. */
  origin: 'article' | 'lab';
  /** The article's section (or the outline item) it reproduces. */
  section: string;
  /** The result the article (or the lab) reports, in one line. */
  expectedText: string;
  sandbox: SandboxSettings;
  phases: ScenarioPhase[];
  checks: ScenarioCheck[];
  /** Why the result is what it is, in a few sentences. */
  explanation: string;
}

/** What a scenario run observed (per phase, and summed over phases at the top). */
export interface ScenarioObserved {
  /** Connections the client opened, counted by the lab (a new socket per request that was not reused). */
  connectionsOpened: number;
  /** SYNs sent by connect(): the namespace kernel's /proc/net/snmp Tcp ActiveOpens delta. */
  synSent: number;
  /** TIME_WAIT sockets after the run: client side (remote port = server port) and server side (local port = server port). */
  timeWait: { client: number; server: number };
  /** Errors by errno code (EADDRNOTAVAIL, ECONNRESET, ...). */
  errors: Record<string, number>;
  requests: { sent: number; ok: number; failed: number };
  reusedRequests: number;
  /** TCP states counted by side after the run (the netstat view). */
  states: { client: Record<string, number>; server: Record<string, number> };
  durationMs: number;
  /** Resets seen on reused sockets (keepalive-race). */
  resetsOnReusedSocket?: number;
  /** Requests retried after a reset on a reused socket (keepalive-race's retry mitigation). */
  retries?: number;
  /**
   * Idle pooled connections the client closed itself before the server's idle close (keepalive-race's
   * client-timeout and honour-hint mitigations): proof that the mitigation, not luck, kept requests safe.
   */
  clientIdleCloses?: number;
  /** Connections opened when connect() first failed with EADDRNOTAVAIL (port-exhaustion; null when it never did). */
  openedBeforeExhaustion?: number | null;
  /** Milliseconds from the first request to the first EADDRNOTAVAIL (port-exhaustion). */
  exhaustedAfterMs?: number | null;
  /** Size of the ephemeral port range the run used. */
  portRangeSize?: number;
  /** Largest TIME_WAIT count sampled during the run. */
  timeWaitPeak?: number;
  /** HTTP/2 streams sent (http2-multiplexing). */
  streams?: number;
  /** TLS phases: handshakes the client completed and resumed, and what the server's ledger counted. */
  tls?: { handshakes: number; resumed: number; serverHandshakes: number; serverResumed: number };
  /**
   * TLS phases: CPU time of the thread the lab server runs on, per request it served, in µs
   * (the client runs in loadgen worker threads, so it is not in this number).
   */
  serverCpuUsPerRequest?: number;
  /** Why the server closed its connections (the server's ledger). */
  serverClosedBy?: Record<string, number>;
  /** The first rows of the TCP table on the server's ports after the run, like `netstat -n | grep 8080`. */
  sockets?: Array<{ local: string; remote: string; state: string }>;
  phases?: Record<string, ScenarioObserved>;
}

export interface CheckResult {
  metric: string;
  op: CheckOp;
  expected: number;
  /** Name of the metric the expected value came from, when it was one. */
  expectedFrom?: string;
  actual: number | null;
  pass: boolean;
  skipped: boolean;
  says: string;
}

export interface ScenarioVerdict {
  pass: boolean;
  checks: CheckResult[];
}
