import { describe, expect, it } from 'vitest';
import { initialStatus } from '../src/dashboard/model.js';
import { DashboardStore } from '../src/dashboard/store.js';
import { throughputView } from '../src/dashboard/views/throughput-view.js';
import { syntheticSnapshot } from './fixtures/synthetic-snapshot.mjs';

describe('dashboard throughput panel over TLS', () => {
  const store = () => new DashboardStore(initialStatus('embedded', 'ws://127.0.0.1:7070/ws', 'http://127.0.0.1:8080/'));

  it('adds handshakes/s and resumed % summed over the connected sources that report TLS', () => {
    const snap = syntheticSnapshot({ at: Date.now() });
    const agent = snap.sources.find((s) => s.role === 'agent')!;
    snap.sources = [
      ...snap.sources.filter((s) => s !== agent),
      { ...agent, id: 'a1', tls: { handshakesPerSec: 300, handshakes: 1000, resumed: 900 } },
      { ...agent, id: 'a2', tls: { handshakesPerSec: 200, handshakes: 1000, resumed: 700 } },
      { ...agent, id: 'a3', connected: false, tls: { handshakesPerSec: 999, handshakes: 5, resumed: 0 } },
    ];
    const s = store();
    s.setSnapshot(snap);
    const lines = throughputView.lines(s.model(), 60, 12);
    expect(lines.at(-1)).toBe('TLS handshakes/s 500 · resumed 80%');
  });

  it("shows a TLS server's own handshakes/s and resumed % on a line of its own, not added to its clients'", () => {
    const snap = syntheticSnapshot({ at: Date.now() });
    const agent = snap.sources.find((s) => s.role === 'agent')!;
    snap.sources = [
      { ...agent, id: 'a1', tls: { handshakesPerSec: 400, handshakes: 4000, resumed: 1000 } },
      {
        ...agent,
        id: 's1',
        role: 'server',
        name: 'server@8443',
        tls: { handshakesPerSec: 410, handshakes: 4010, resumed: 1002 },
      },
    ];
    const s = store();
    s.setSnapshot(snap);
    const lines = throughputView.lines(s.model(), 60, 12);
    expect(lines.slice(-2)).toEqual([
      'TLS handshakes/s 400 · resumed 25%',
      'server TLS handshakes/s 410 · resumed 25%',
    ]);
  });

  it('says nothing about TLS when no source reports it', () => {
    const s = store();
    s.setSnapshot(syntheticSnapshot({ at: Date.now() }));
    expect(throughputView.lines(s.model(), 60, 12).join('\n')).not.toContain('TLS');
  });
});
