import {
  ARTICLE_SERVER,
  client,
  GO_DEFAULT_MAX_IDLE_PER_HOST,
  kernelAgrees,
  TIME_WAIT_TOTAL,
} from './catalog-parts.js';
import type { ScenarioDefinition } from './scenario.js';

/**
 * The article's experiments ("Understand how HTTP/1.1 persistent connection works based on
 * Golang"), in its order. Short gaps by default; `faithfulGapMs` is the article's timing.
 */
export const ARTICLE_SCENARIOS: readonly ScenarioDefinition[] = [
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
        metric: 'openedBeforeExhaustion',
        op: 'gte',
        value: { metric: 'portRangeSize', factor: 0.95 },
        says: 'the range was (nearly) full when connect() first failed: at least 95% of its ports had been used',
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
];
