import { ARTICLE_SERVER, client } from './catalog-parts.js';
import type { ScenarioCheck, ScenarioDefinition } from './scenario.js';

/** The client's TLS counts equal the server ledger's, in a phase. */
const serverAgrees = (phase: string): ScenarioCheck[] => [
  {
    metric: `phases.${phase}.tls.serverHandshakes`,
    op: 'eq',
    value: { metric: `phases.${phase}.tls.handshakes` },
    says: `${phase}: the server's ledger counted the same handshakes as the client`,
  },
  {
    metric: `phases.${phase}.tls.serverResumed`,
    op: 'eq',
    value: { metric: `phases.${phase}.tls.resumed` },
    says: `${phase}: and the same resumed sessions`,
  },
];

/** Every connection the lab counted is one SYN the namespace's kernel sent. */
const synPerConnection: ScenarioCheck = {
  metric: 'synSent',
  op: 'eq',
  value: { metric: 'connectionsOpened' },
  says: 'every connection the lab counted is one SYN the kernel sent (ActiveOpens)',
  namespaceOnly: true,
};

/** The lab's TLS scenarios: the handshake keep-alive saves, and what session resumption saves without it. */
export const TLS_SCENARIOS: readonly ScenarioDefinition[] = [
  {
    name: 'tls-handshake-per-request',
    title: 'The sequential experiment over TLS: a full handshake per request, or one',
    origin: 'lab',
    section: 'The article\'s "resource-consuming operation", measured: TLS handshakes',
    expectedText: '10 full handshakes with bodies unread, 1 with bodies read; more server CPU and latency per request',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'unread',
        title: "10 sequential GETs over https, body never read, no session cache (Go's default tls.Config)",
        driver: 'tls',
        client: client({ consumeBody: false, tlsResume: false }),
        server: { ...ARTICLE_SERVER, tls: true },
        timeoutMs: 20_000,
      },
      {
        name: 'read',
        title: '10 sequential GETs over https, body read and closed',
        driver: 'tls',
        client: client({ consumeBody: true, tlsResume: false }),
        server: { ...ARTICLE_SERVER, tls: true },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      {
        metric: 'phases.unread.tls.handshakes',
        op: 'eq',
        value: 10,
        says: 'unread bodies: 10 requests, 10 handshakes',
      },
      { metric: 'phases.unread.tls.resumed', op: 'eq', value: 0, says: 'every one of them full (no session offered)' },
      { metric: 'phases.read.tls.handshakes', op: 'eq', value: 1, says: 'bodies read: one handshake carries all 10' },
      { metric: 'phases.read.reusedRequests', op: 'eq', value: 9, says: 'requests 2..10 reuse the first connection' },
      ...serverAgrees('unread'),
      ...serverAgrees('read'),
      {
        metric: 'phases.unread.serverCpuUsPerRequest',
        op: 'gt',
        value: { metric: 'phases.read.serverCpuUsPerRequest', factor: 1.5 },
        says: 'a full handshake per request costs the server well over the CPU of a reused connection',
      },
      {
        metric: 'phases.unread.latencyMs.p50',
        op: 'gt',
        value: { metric: 'phases.read.latencyMs.p50' },
        says: 'and each request waits for its handshake (p50 latency)',
      },
      synPerConnection,
    ],
    explanation:
      'The article calls opening a connection "a resource-consuming operation"; over TLS it is a handshake: key exchange, ' +
      'certificate signature and its check, two round trips before the first byte of HTTP. Leaving bodies unread (Go: no ' +
      'io.Copy(io.Discard, resp.Body) and resp.Body.Close(); Node: no res.resume()) keeps each connection out of the pool, so every ' +
      'request pays a new handshake; reading them lets one handshake serve all ten. The server CPU per request is measured on the ' +
      "thread the lab server runs on (the client runs in the loadgen's worker threads), with Go's default client: a tls.Config " +
      'without ClientSessionCache never resumes, so every new connection is a full handshake.',
  },
  {
    name: 'tls-session-resumption',
    title: 'No keep-alive over TLS: full handshakes, or resumed sessions',
    origin: 'lab',
    section: 'The lab: what TLS session resumption saves when connections are not reused',
    expectedText: '20 connections: 20 full handshakes without resumption, 1 full + 19 resumed with it',
    sandbox: { namespace: 'preferred' },
    phases: [
      {
        name: 'off',
        title: "20 sequential GETs over https, a new connection each, no session cache (Go's http.Transport default)",
        driver: 'tls',
        client: client({ requests: 20, keepAlive: false, tlsResume: false }),
        server: { ...ARTICLE_SERVER, tls: true },
        timeoutMs: 20_000,
      },
      {
        name: 'on',
        title: "the same with a session cache (Node's https.Agent default; Go needs a ClientSessionCache)",
        driver: 'tls',
        client: client({ requests: 20, keepAlive: false, tlsResume: true }),
        server: { ...ARTICLE_SERVER, tls: true },
        timeoutMs: 20_000,
      },
    ],
    checks: [
      { metric: 'phases.off.connectionsOpened', op: 'eq', value: 20, says: 'no keep-alive: a connection per request' },
      { metric: 'phases.off.tls.handshakes', op: 'eq', value: 20, says: 'without resumption: 20 handshakes' },
      { metric: 'phases.off.tls.resumed', op: 'eq', value: 0, says: 'all of them full' },
      {
        metric: 'phases.on.connectionsOpened',
        op: 'eq',
        value: 20,
        says: 'with resumption: still a connection per request',
      },
      { metric: 'phases.on.tls.handshakes', op: 'eq', value: 20, says: 'and 20 handshakes' },
      {
        metric: 'phases.on.tls.resumed',
        op: 'eq',
        value: 19,
        says: 'but only the first is full: 19 resume its session',
      },
      ...serverAgrees('off'),
      ...serverAgrees('on'),
      {
        metric: 'phases.off.serverCpuUsPerRequest',
        op: 'gt',
        value: { metric: 'phases.on.serverCpuUsPerRequest' },
        says: 'a resumed handshake costs the server less CPU than a full one (no certificate signature)',
      },
      synPerConnection,
    ],
    explanation:
      'Resumption does not save the connection (one SYN per request either way, and a TIME_WAIT each) but it saves most of ' +
      'the handshake: the client presents a ticket (TLS 1.3, or 1.2 tickets) or a session ID, and the server skips the ' +
      "certificate and its signature. Go's http.Transport resumes only when its TLSClientConfig has a ClientSessionCache " +
      "(tls.NewLRUClientSessionCache); Node's https.Agent caches sessions by default (maxCachedSessions 100), and undici's " +
      'connector too; a bare tls.connect() or http2.connect() resumes only when handed a session. kalab loadgen says which ' +
      '(--tls-resume on|off, report tls.resumeSource). Keep-alive is still the bigger saving: no new connection at all.',
  },
];
