import type { ScenarioDefinition, ScenarioPhase, ScenarioSetting } from './scenario.js';

/**
 * Each knob of a scenario with its name in Go's net/http and in Node, so a reader who knows
 * one ecosystem can find the setting in the other.
 */
const SETTING_NAMES = {
  driver: { label: 'client', go: 'http.Client / http.Transport', node: 'see value' },
  requests: {
    label: 'requests per worker',
    go: 'for i := 0; i < N; i++ { http.Get(...) }',
    node: 'a loop of http.get() / request()',
  },
  concurrency: { label: 'workers', go: 'goroutines', node: 'concurrent async loops' },
  keepAlive: {
    label: 'keep-alive',
    go: 'Transport.DisableKeepAlives (inverted)',
    node: 'new http.Agent({ keepAlive })',
  },
  maxIdle: {
    label: 'idle connections kept per host',
    go: 'Transport.MaxIdleConnsPerHost (default 2)',
    node: 'http.Agent({ maxFreeSockets }) / undici Pool connections',
  },
  consumeBody: {
    label: 'response body read',
    go: 'io.Copy(io.Discard, resp.Body); resp.Body.Close()',
    node: 'res.resume() / await body.dump()',
  },
  gapMs: { label: 'pause between requests', go: 'time.Sleep(...)', node: 'await setTimeout(ms)' },
  idleTimeoutMs: {
    label: 'client idle timeout',
    go: 'Transport.IdleConnTimeout (default 90 s)',
    node: 'http.Agent({ timeout }) / undici keepAliveTimeout',
  },
  honourKeepAliveHint: {
    label: 'honour Keep-Alive: timeout',
    go: '(not supported by net/http)',
    node: 'http.Agent keepSocketAlive (default) / undici keepAliveTimeoutThreshold',
  },
  retryIdempotent: {
    label: 'retry idempotent requests',
    go: 'Transport retries on a reused conn (shouldRetryRequest)',
    node: 'retry when req.reusedSocket && ECONNRESET',
  },
  closeAtEnd: {
    label: 'at the end',
    go: 'program exit / Transport.CloseIdleConnections()',
    node: 'agent.destroy() / pool.close()',
  },
  keepAliveTimeoutMs: { label: 'server idle timeout', go: 'Server.IdleTimeout', node: 'server.keepAliveTimeout' },
  maxRequestsPerSocket: {
    label: 'server max requests per connection',
    go: '(none; handler sets Connection: close)',
    node: 'server.maxRequestsPerSocket',
  },
  close: {
    label: 'server answers Connection: close',
    go: 'w.Header().Set("Connection", "close")',
    node: "res.setHeader('Connection', 'close')",
  },
  bodyBytes: { label: 'response body size', go: 'fmt.Fprintf(w, "Hello world")', node: "res.end('Hello world')" },
  delayUs: {
    label: 'server delay per request',
    go: 'time.Sleep(50 * time.Microsecond)',
    node: 'setTimeout before res.end()',
  },
  h2c: {
    label: 'HTTP/2 over cleartext',
    go: 'golang.org/x/net/http2/h2c',
    node: 'http2.createServer() / http2.connect()',
  },
  tls: {
    label: 'server speaks TLS',
    go: 'http.Server.ListenAndServeTLS',
    node: 'https.createServer() / kalab server --tls',
  },
  tlsResume: {
    label: 'TLS session resumption',
    go: 'tls.Config.ClientSessionCache (nil by default: every handshake is full)',
    node: 'https.Agent maxCachedSessions (default 100: resumes) / tls.connect({ session })',
  },
  portRange: {
    label: 'ephemeral port range',
    go: 'sysctl net.ipv4.ip_local_port_range',
    node: 'sysctl net.ipv4.ip_local_port_range',
  },
  tcpTwReuse: {
    label: 'reuse TIME_WAIT ports for connect()',
    go: 'sysctl net.ipv4.tcp_tw_reuse',
    node: 'sysctl net.ipv4.tcp_tw_reuse',
  },
} as const;

type SettingKey = keyof typeof SETTING_NAMES;

function show(key: SettingKey, value: unknown): string {
  if (value === null) return key === 'idleTimeoutMs' ? 'none (until the server closes)' : 'unlimited';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (key === 'portRange' && Array.isArray(value)) return `${value[0]}-${value[1]} (${value[1] - value[0] + 1} ports)`;
  if (key === 'gapMs' || key === 'idleTimeoutMs' || key === 'keepAliveTimeoutMs') return `${value} ms`;
  if (key === 'delayUs') return `${value} µs`;
  if (key === 'bodyBytes') return `${value} bytes`;
  return String(value);
}

function setting(key: SettingKey, value: unknown): ScenarioSetting {
  const names = SETTING_NAMES[key];
  return { label: names.label, value: show(key, value), go: names.go, node: names.node };
}

/** The client each driver is, in the lab's words and in Go's and Node's. */
const CLIENTS: Record<ScenarioPhase['driver'], { value: string; go: string; node: string }> = {
  'http-pool': {
    value: 'node:http Agent',
    go: 'http.Client{Transport: &http.Transport{...}}',
    node: 'new http.Agent({...}) + http.get()',
  },
  exhaustion: {
    value: 'kalab loadgen --no-keepalive (closes after each response)',
    go: 'a Transport whose pool keeps nothing for the host',
    node: 'net.connect() per request, socket.destroy() after it',
  },
  h2c: {
    value: 'one HTTP/2 session',
    go: 'http2.Transport{AllowHTTP: true} (x/net/http2)',
    node: 'http2.connect() + session.request()',
  },
  undici: {
    value: 'undici Pool',
    go: '(none: in net/http any unread body blocks reuse)',
    node: 'new Pool(origin).request()',
  },
  race: {
    value: 'node:http Agent, aimed at the server idle close',
    go: 'http.Client with IdleConnTimeout 90 s',
    node: 'http.Agent subclass ignoring Keep-Alive: timeout',
  },
  tls: {
    value: 'kalab loadgen --engine http over https:// (node:http Agent on TLS sockets)',
    go: 'http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{...}}}',
    node: 'new https.Agent({...}) + https.get()',
  },
};

/** The gap a phase's workers wait between requests: the article's with `faithful`, the short one otherwise. */
export function phaseGapMs(phase: ScenarioPhase, faithful: boolean): number {
  return faithful && phase.client.faithfulGapMs !== undefined ? phase.client.faithfulGapMs : phase.client.gapMs;
}

/** The settings of one phase, in display order, with Go and Node names. */
export function describePhase(phase: ScenarioPhase, options: { faithful?: boolean } = {}): ScenarioSetting[] {
  const c = phase.client;
  const out: ScenarioSetting[] = [
    { label: SETTING_NAMES.driver.label, ...CLIENTS[phase.driver] },
    setting('requests', c.requests),
    setting('concurrency', c.concurrency),
    setting('keepAlive', c.keepAlive),
  ];
  if (c.keepAlive) out.push(setting('maxIdle', c.maxIdle));
  out.push(setting('consumeBody', c.consumeBody));
  out.push(setting('gapMs', phaseGapMs(phase, options.faithful ?? false)));
  if (c.idleTimeoutMs !== undefined) out.push(setting('idleTimeoutMs', c.idleTimeoutMs));
  if (c.honourKeepAliveHint !== undefined) out.push(setting('honourKeepAliveHint', c.honourKeepAliveHint));
  if (c.retryIdempotent !== undefined) out.push(setting('retryIdempotent', c.retryIdempotent));
  if (c.closeAtEnd === 'client') out.push(setting('closeAtEnd', 'the client closes what is left'));
  if (c.tlsResume !== undefined) out.push(setting('tlsResume', c.tlsResume));
  const s = phase.server;
  for (const key of [
    'keepAliveTimeoutMs',
    'maxRequestsPerSocket',
    'close',
    'bodyBytes',
    'delayUs',
    'h2c',
    'tls',
  ] as const) {
    if (s[key] !== undefined) out.push(setting(key, s[key]));
  }
  return out;
}

/** The sandbox's settings (namespace sysctls). */
export function describeSandbox(def: ScenarioDefinition): ScenarioSetting[] {
  const out: ScenarioSetting[] = [];
  if (def.sandbox.portRange) out.push(setting('portRange', def.sandbox.portRange));
  if (def.sandbox.tcpTwReuse !== undefined) out.push(setting('tcpTwReuse', def.sandbox.tcpTwReuse));
  return out;
}
