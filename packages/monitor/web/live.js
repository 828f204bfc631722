// The live page: reads the monitor's /ws as a viewer and draws each snapshot. The token, when
// the monitor asks for one, is typed into the page (never embedded in it) and kept for this tab.
(() => {
  const P = window.KalabPanels;
  const panels = P.createPanels();
  // Latency is not in the snapshot's history: one point per second, 3600 at most (an hour).
  const latency = P.createRing(['at', 'p50', 'p90', 'p99', 'max'], 3600);
  const statusEl = document.getElementById('status');
  const form = document.getElementById('token-form');
  let token = sessionStorage.getItem('kalab-token') || undefined;
  let ws;
  let retryMs = 500;
  let lastLatencyAt = 0;

  const say = (text) => {
    statusEl.textContent = text;
  };

  function askToken(why) {
    if (ws) ws.onclose = null;
    ws?.close();
    document.body.classList.add('needs-token');
    form.hidden = false;
    say(why);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token = new FormData(form).get('token') || undefined;
    if (token) sessionStorage.setItem('kalab-token', token);
    form.hidden = true;
    document.body.classList.remove('needs-token');
    start();
  });

  function draw(s) {
    document.getElementById('at').replaceChildren(P.metric(['at'], s.at));
    const run = s.run;
    document.getElementById('run').textContent = run
      ? `run ${run.id}${run.scenario ? ` (${run.scenario})` : ''}${run.target ? ` → ${run.target}` : ''}: ${run.running ? 'running' : 'ended'}`
      : 'no run yet';
    if (s.at - lastLatencyAt >= 1000) {
      lastLatencyAt = s.at;
      latency.push({ at: s.at / 1000, ...s.merged.latencyMs });
    }
    const h = s.history;
    const at = h.at.map((t) => t / 1000);
    panels.drawSeries({ at, rps: h.rps, newConnPerSec: h.newConnPerSec, latency: latency.arrays(), states: h.states });
    panels.drawNumbers(s, []);
    panels.drawSources(s.sources);
    panels.drawConnections(s.connections);
  }

  /** The first picture over HTTP: a 401 here means the monitor wants the token. */
  async function start() {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    let res;
    try {
      res = await fetch('/api/snapshot', { headers, cache: 'no-store' });
    } catch {
      return retry('monitor unreachable');
    }
    if (res.status === 401)
      return askToken(token ? 'wrong token: type the monitor token' : 'this monitor needs its token');
    if (!res.ok) return retry(`monitor answered ${res.status}`);
    draw(await res.json());
    connect();
  }

  function retry(why) {
    say(`${why}; retrying`);
    setTimeout(start, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  }

  function connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      const hello = {
        v: 1,
        type: 'hello',
        role: 'viewer',
        name: 'web',
        host: 'browser',
        version: document.documentElement.dataset.version || '0',
      };
      if (token) hello.token = token;
      ws.send(JSON.stringify(hello));
      ws.send(JSON.stringify({ v: 1, type: 'subscribe', intervalMs: 1000 }));
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === 'snapshot') {
        retryMs = 500;
        say('live');
        draw(msg);
      } else if (msg.type === 'error' && msg.code === 'KALAB_ERR_AUTH') askToken(msg.message);
    };
    // 4401 or 1008 with an auth reason: the monitor refused the token.
    ws.onclose = (e) =>
      e.code === 4401 || /token/i.test(e.reason)
        ? askToken(e.reason || 'the monitor needs its token')
        : retry(`connection closed (${e.code})`);
  }

  start();
})();
