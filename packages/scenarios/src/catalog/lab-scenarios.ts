import { client, TIME_WAIT_TOTAL } from './catalog-parts.js';
import type { ScenarioDefinition } from './scenario.js';

/** The lab's own scenarios: the idle-timeout race, server-driven churn, who holds TIME_WAIT, undici's bodies. */
export const LAB_SCENARIOS: readonly ScenarioDefinition[] = [
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
        metric: 'phases.client-timeout.clientIdleCloses',
        op: 'gte',
        value: 1,
        says: "the client dropped idle connections itself before the server's close could meet a request",
      },
      {
        metric: 'phases.honour-hint.clientIdleCloses',
        op: 'gte',
        value: 1,
        says: "the Keep-Alive hint made the client close connections before the server's idle close",
      },
      {
        metric: 'phases.retry.retries',
        op: 'gte',
        value: 1,
        says: "the retry phase met the server's close and sent the reset request again",
      },
      {
        metric: 'phases.retry.retries',
        op: 'eq',
        value: { metric: 'phases.retry.resetsOnReusedSocket' },
        says: 'every reset on a reused socket was retried',
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
