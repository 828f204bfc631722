import type { ClientSettings, ScenarioCheck, ScenarioDefinition } from './scenario.js';

/** Go's http.Transport default MaxIdleConnsPerHost (DefaultMaxIdleConnsPerHost). */
export const GO_DEFAULT_MAX_IDLE_PER_HOST = 2;

const client = (over: Partial<ClientSettings>): ClientSettings => ({
  requests: 10,
  concurrency: 1,
  keepAlive: true,
  maxIdle: GO_DEFAULT_MAX_IDLE_PER_HOST,
  consumeBody: true,
  gapMs: 20,
  closeAtEnd: 'client',
  ...over,
});

/** The lab's connection count must be what the namespace's kernel saw: one SYN and one TIME_WAIT each. */
const kernelAgrees = (timeWaitSide: 'client' | 'server'): ScenarioCheck[] => [
  {
    metric: 'synSent',
    op: 'eq',
    value: { metric: 'connectionsOpened' },
    says: 'every connection the lab counted is one SYN the kernel sent (ActiveOpens)',
    namespaceOnly: true,
  },
  {
    metric: `timeWait.${timeWaitSide}`,
    op: 'eq',
    value: { metric: 'connectionsOpened' },
    says: `every connection ends in TIME_WAIT on the ${timeWaitSide} side`,
  },
];

/** One TIME_WAIT per connection, whichever side closed first. */
const TIME_WAIT_TOTAL = 'timeWait.client+timeWait.server';

const ARTICLE_SERVER = { bodyBytes: 11, delayUs: 50 } as const;

/**
 * The article's experiments ("Understand how HTTP/1.1 persistent connection works based on
 * Golang") and the lab's own. Short gaps by default; `faithfulGapMs` is the article's timing.
 */
export const SCENARIOS: readonly ScenarioDefinition[] = [
  {
    name: 'seq-unread-body',
    title: 'Sequential requests, response bodies never read',
    origin: 'article',
    section: 'Sequential requests (non-persistent connection)',
    expectedText: '10 TCP connections, 10 TIME_WAIT on the client side',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '10 sequential GETs, body never read',
        driver: 'http-pool',
        client: client({ consumeBody: false, faithfulGapMs: 1000 }),
        server: ARTICLE_SERVER,
        timeoutMs: 20_000,
      },
    ],
    checks: [
      { metric: 'connectionsOpened', op: 'eq', value: 10, says: 'the article: 10 requests opened 10 TCP connections' },
      ...kernelAgrees('client'),
    ],
    explanation:
      'A connection goes back to the pool only when its response has been read to the end. ' +
      'Go needs io.Copy(io.Discard, resp.Body) and resp.Body.Close(); node:http needs res.resume() or reading the stream. ' +
      'Nobody read the bodies, so each request found no idle connection and dialed a new one; when the program ended the client closed all ten, first, so the ten TIME_WAIT sockets are on the client side.',
  },
  {
    name: 'seq-read-body',
    title: 'Sequential requests, response bodies read to the end',
    origin: 'article',
    section: 'Sequential requests (persistent connection)',
    expectedText: '1 TCP connection, one SYN in the capture',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '10 sequential GETs, body read and closed',
        driver: 'http-pool',
        client: client({ consumeBody: true, faithfulGapMs: 1000 }),
        server: ARTICLE_SERVER,
        timeoutMs: 20_000,
      },
    ],
    checks: [
      { metric: 'connectionsOpened', op: 'eq', value: 1, says: 'the article: one connection carries all 10 requests' },
      {
        metric: 'synSent',
        op: 'eq',
        value: 1,
        says: 'the article: one SYN in the tcpdump capture',
        namespaceOnly: true,
      },
      { metric: 'reusedRequests', op: 'eq', value: 9, says: 'requests 2..10 reuse the first connection' },
      ...kernelAgrees('client'),
    ],
    explanation:
      'Reading the body to the end lets the client put the connection back into its idle pool, and the next request takes it from there. ' +
      "Ten requests, one handshake: the gaps between requests are far below the server's idle timeout (Go Server.IdleTimeout, Node server.keepAliveTimeout, 5 s), so the connection is still open each time.",
  },
  {
    name: 'concurrent-default-pool',
    title: 'Concurrent requests with the default pool (2 idle connections per host)',
    origin: 'article',
    section: 'Concurrent requests: default connection pool',
    expectedText: 'far more than 10 connections (the article counted 63 netstat lines)',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '10 workers × 10 GETs, at most 2 idle connections kept',
        driver: 'http-pool',
        client: client({ concurrency: 10, maxIdle: GO_DEFAULT_MAX_IDLE_PER_HOST, gapMs: 1 }),
        server: ARTICLE_SERVER,
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'connectionsOpened',
        op: 'gt',
        value: 10,
        says: 'the article: far more connections than the 10 workers',
      },
      ...kernelAgrees('client'),
    ],
    explanation:
      'Ten workers each need a connection, but the pool keeps only two idle ones per host (Go MaxIdleConnsPerHost = 2, Node maxFreeSockets: 2). ' +
      'When several responses finish together, the third and later connections returned to the pool are closed by the client, and the next requests dial again: churn, and TIME_WAIT on the client side. ' +
      "A 1 ms pause between a worker's requests stands in for the goroutines running in parallel (Node's single thread would otherwise hand the freed socket straight back to the same worker).",
  },
  {
    name: 'concurrent-tuned-pool',
    title: 'Concurrent requests with a tuned pool (10 idle connections per host)',
    origin: 'article',
    section: 'Concurrent requests: tuning the connection pool',
    expectedText: '10 connections, one per worker',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '10 workers × 10 GETs, up to 10 idle connections kept',
        driver: 'http-pool',
        client: client({ concurrency: 10, maxIdle: 10, gapMs: 1 }),
        server: ARTICLE_SERVER,
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'connectionsOpened',
        op: 'eq',
        value: 10,
        says: 'the article: 10 connections after raising MaxIdleConnsPerHost',
      },
      ...kernelAgrees('client'),
    ],
    explanation:
      'With as many idle slots as workers (Go MaxIdleConnsPerHost = 10, Node maxFreeSockets: 10) no finished connection is thrown away: each worker keeps reusing one, and 100 requests need 10 handshakes.',
  },
  {
    name: 'port-exhaustion',
    title: 'TIME_WAIT and ephemeral port exhaustion',
    origin: 'article',
    section: 'Outline: TIME_WAIT state and port exhaustion',
    expectedText: 'ephemeral ports held in TIME_WAIT until connect() fails with EADDRNOTAVAIL',
    sandbox: { namespace: 'required', portRange: [40000, 40499], tcpTwReuse: 0 },
    phases: [
      {
        name: 'main',
        title: '50 workers, no connection reuse, the client closes each connection (500-port range, tcp_tw_reuse=0)',
        driver: 'exhaustion',
        client: client({ concurrency: 50, requests: 20, keepAlive: false, maxIdle: 0, gapMs: 0 }),
        server: ARTICLE_SERVER,
        timeoutMs: 30_000,
      },
    ],
    checks: [
      {
        metric: 'errors.EADDRNOTAVAIL',
        op: 'gt',
        value: 0,
        says: 'connect() fails with EADDRNOTAVAIL once every port is in TIME_WAIT',
      },
      {
        metric: 'timeWait.client',
        op: 'gte',
        value: { metric: 'connectionsOpened' },
        says: 'every connection the client closed holds its port in TIME_WAIT',
      },
      {
        metric: 'connectionsOpened',
        op: 'lte',
        value: { metric: 'portRangeSize' },
        says: 'no more connections than ports in the range',
      },
      {
        metric: 'synSent',
        op: 'eq',
        value: { metric: 'connectionsOpened' },
        says: 'a failed connect() sends no SYN',
        namespaceOnly: true,
      },
    ],
    explanation:
      'The side that closes a TCP connection first keeps it in TIME_WAIT for 60 s (2 MSL on Linux), and the socket keeps its local port. ' +
      'A client that closes every connection itself (Go with a pool too small for its concurrency, or no keep-alive; Node with keepAlive off or maxFreeSockets too low) burns one ephemeral port per request. ' +
      'With tcp_tw_reuse=0 no TIME_WAIT port can be reused, so once the range (here narrowed to 500 ports, the host has about 28,000) is full, connect() fails with EADDRNOTAVAIL. Keep-alive with a big enough pool is the fix.',
  },
  {
    name: 'http2-multiplexing',
    title: 'HTTP/2: many concurrent requests, one connection',
    origin: 'article',
    section: 'Outline: HTTP2',
    expectedText: '1 connection carrying 100 concurrent streams',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '100 concurrent GETs over one h2c session',
        driver: 'h2c',
        client: client({ concurrency: 100, requests: 1, maxIdle: null, gapMs: 0 }),
        server: { ...ARTICLE_SERVER, h2c: true },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      { metric: 'connectionsOpened', op: 'eq', value: 1, says: 'one TCP connection for all requests' },
      { metric: 'streams', op: 'eq', value: 100, says: '100 streams multiplexed on it' },
      { metric: 'requests.ok', op: 'eq', value: 100, says: 'every stream got its response' },
      {
        metric: 'synSent',
        op: 'eq',
        value: 1,
        says: 'one SYN: the kernel saw a single connection',
        namespaceOnly: true,
      },
      {
        metric: TIME_WAIT_TOTAL,
        op: 'eq',
        value: 1,
        says: 'one connection, one TIME_WAIT (on the side that closed first)',
      },
    ],
    explanation:
      'HTTP/2 multiplexes concurrent requests as streams over one connection, so there is no pool to size and no per-request handshake. ' +
      "Go's Transport does this automatically over TLS (h2c needs golang.org/x/net/http2); Node uses http2.connect() and session.request().",
  },
  {
    name: 'keepalive-race',
    title: 'The idle-timeout race: ECONNRESET on a reused connection',
    origin: 'lab',
    section: "The lab: client idle timeout longer than the server's",
    expectedText: '≥1 ECONNRESET on a reused socket; 0 errors with each mitigation',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'race',
        title:
          "client keeps idle connections forever (like Go's IdleConnTimeout 90 s), requests sent at the server's idle-close moment",
        driver: 'race',
        client: client({
          concurrency: 64,
          requests: 12,
          maxIdle: null,
          idleTimeoutMs: null,
          honourKeepAliveHint: false,
          retryIdempotent: false,
        }),
        server: { keepAliveTimeoutMs: 300 },
        timeoutMs: 20_000,
      },
      {
        name: 'client-timeout',
        title: "mitigation: client idle timeout (100 ms) well below the server's",
        driver: 'race',
        client: client({
          concurrency: 32,
          requests: 2,
          maxIdle: null,
          idleTimeoutMs: 100,
          honourKeepAliveHint: false,
          retryIdempotent: false,
        }),
        server: { keepAliveTimeoutMs: 300 },
        timeoutMs: 20_000,
      },
      {
        name: 'honour-hint',
        title: "mitigation: honour the server's Keep-Alive: timeout hint (node:http's own Agent)",
        driver: 'race',
        client: client({
          concurrency: 32,
          requests: 2,
          maxIdle: null,
          idleTimeoutMs: null,
          honourKeepAliveHint: true,
          retryIdempotent: false,
        }),
        server: { keepAliveTimeoutMs: 300 },
        timeoutMs: 20_000,
      },
      {
        name: 'retry',
        title: 'mitigation: retry idempotent requests once on a new connection',
        driver: 'race',
        client: client({
          concurrency: 32,
          requests: 2,
          maxIdle: null,
          idleTimeoutMs: null,
          honourKeepAliveHint: false,
          retryIdempotent: true,
        }),
        server: { keepAliveTimeoutMs: 300 },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'phases.race.resetsOnReusedSocket',
        op: 'gte',
        value: 1,
        says: 'a request sent as the server closes the idle connection is reset',
      },
      {
        metric: 'phases.client-timeout.requests.failed',
        op: 'eq',
        value: 0,
        says: 'a client that drops idle connections first never writes into a closing one',
      },
      {
        metric: 'phases.honour-hint.requests.failed',
        op: 'eq',
        value: 0,
        says: 'the Keep-Alive: timeout hint tells the client when to stop reusing',
      },
      {
        metric: 'phases.retry.requests.failed',
        op: 'eq',
        value: 0,
        says: 'a GET can be retried safely on a new connection',
      },
    ],
    explanation:
      'A server closes a connection that stayed idle for its keepAliveTimeout. If the client keeps idle connections longer and picks that one just as the server closes it, its request meets a closed socket: ECONNRESET ("socket hang up"), on a reused connection only. ' +
      "Fixes: keep the client idle timeout below the server's (Go IdleConnTimeout, Node http.Agent timeout / undici keepAliveTimeout), honour the server's Keep-Alive: timeout hint (node:http and undici do, Go does not; node:http drops an idle socket 1 s before the hint, so a 300 ms server, announced as timeout=0, gets no reuse at all), or retry idempotent requests (Go's Transport retries them itself when nothing was written).",
  },
  {
    name: 'server-max-requests',
    title: 'Server closes after N requests per connection',
    origin: 'lab',
    section: 'The lab: churn from the server side',
    expectedText: "50 requests at 5 per connection: 10 connections, all closed by the server's limit",
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'main',
        title: '50 sequential GETs, server maxRequestsPerSocket = 5',
        driver: 'http-pool',
        client: client({ requests: 50, gapMs: 1 }),
        server: { maxRequestsPerSocket: 5 },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      { metric: 'connectionsOpened', op: 'eq', value: 10, says: '50 requests / 5 per connection' },
      {
        metric: 'requests.failed',
        op: 'eq',
        value: 0,
        says: 'the server announces the close (Connection: close), so no request is lost',
      },
      {
        metric: 'serverClosedBy.maxRequests',
        op: 'eq',
        value: 10,
        says: 'the server ledger: every connection ended at its 5th request',
      },
      {
        metric: 'synSent',
        op: 'eq',
        value: { metric: 'connectionsOpened' },
        says: 'every connection the lab counted is one SYN the kernel sent (ActiveOpens)',
        namespaceOnly: true,
      },
      {
        metric: TIME_WAIT_TOTAL,
        op: 'eq',
        value: { metric: 'connectionsOpened' },
        says: 'every connection ends in one TIME_WAIT, on whichever side sent the first FIN',
      },
    ],
    explanation:
      'A server that limits requests per connection (Node server.maxRequestsPerSocket; nginx keepalive_requests; in Go a handler setting Connection: close) answers the last allowed request with Connection: close and closes. ' +
      "The client must dial again: churn driven by the server. Who keeps the TIME_WAIT is a race: node:http closes its side as soon as it has parsed a Connection: close response, which on loopback is usually before the server's own FIN arrives, so the TIME_WAIT tends to land on the client (the netstat view shows where it went; who-holds-time-wait shows both cases).",
  },
  {
    name: 'who-holds-time-wait',
    title: 'Who holds TIME_WAIT: the side that closes first',
    origin: 'lab',
    section: 'The lab: TIME_WAIT belongs to the active closer',
    expectedText: 'client closes first → 10 TIME_WAIT on the client; server closes first → 10 on the server',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'client-closes',
        title: '10 connections kept alive, then closed by the client',
        driver: 'http-pool',
        client: client({ concurrency: 10, requests: 1, maxIdle: 10, gapMs: 0 }),
        server: {},
        timeoutMs: 20_000,
      },
      {
        name: 'server-closes',
        title: '10 requests answered with Connection: close',
        driver: 'http-pool',
        client: client({ requests: 10, gapMs: 1 }),
        server: { close: true },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'phases.client-closes.timeWait.client',
        op: 'eq',
        value: 10,
        says: 'client closed first: TIME_WAIT on the client side',
      },
      { metric: 'phases.client-closes.timeWait.server', op: 'eq', value: 0, says: '...and none on the server side' },
      {
        metric: 'phases.server-closes.timeWait.server',
        op: 'eq',
        value: 10,
        says: 'server closed first: TIME_WAIT on the server side',
      },
      { metric: 'phases.server-closes.timeWait.client', op: 'eq', value: 0, says: '...and none on the client side' },
    ],
    explanation:
      'TIME_WAIT is kept by whichever side sends the first FIN (the active closer), never by both. ' +
      'A client that closes its connections burns its own ephemeral ports; a server that closes them (Connection: close, idle timeout, max requests) keeps the TIME_WAIT on its listening port, where it costs no ephemeral port.',
  },
  {
    name: 'undici-unread-body',
    title: 'undici: an unread small body does not block reuse, an unread large one does',
    origin: 'lab',
    section: "The lab: Node's traps under other names",
    expectedText: 'small body unread → 1 connection; 1 MiB body unread → 10 connections',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'small-body',
        title: '10 sequential undici requests, 11-byte body never read',
        driver: 'undici',
        client: client({ consumeBody: false, maxIdle: null, gapMs: 5 }),
        server: { bodyBytes: 11 },
        timeoutMs: 20_000,
      },
      {
        name: 'large-body',
        title: '10 sequential undici requests, 1 MiB body never read',
        driver: 'undici',
        client: client({ consumeBody: false, maxIdle: null, gapMs: 5 }),
        server: { bodyBytes: 1024 * 1024 },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'phases.small-body.connectionsOpened',
        op: 'eq',
        value: 1,
        says: 'undici parsed the whole small response, so the connection was free again',
      },
      {
        metric: 'phases.large-body.connectionsOpened',
        op: 'eq',
        value: 10,
        says: 'a body larger than the stream buffer stalls its connection until read',
      },
      {
        metric: 'synSent',
        op: 'eq',
        value: { metric: 'connectionsOpened' },
        says: 'the kernel saw the same number of SYNs',
        namespaceOnly: true,
      },
    ],
    explanation:
      "undici frees a connection when the response has been parsed to its end, not when the user read it: a small body fits in the stream's buffer, so leaving it unread costs nothing (node:http differs: seq-unread-body). " +
      'A body larger than the buffer (about 64 KiB) stops the parser until someone reads it, the connection stays busy, and every new request dials again. Always consume or cancel bodies (await body.dump()).',
  },
];
