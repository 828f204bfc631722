// The lab's panels in a browser: charts (uPlot) and tables drawn from a snapshot-like view.
// Shared by the live page (live.js) and the HTML reports (report.js). Every number that is
// also in the source JSON carries data-metric="<path>" with the raw value as its text
// (docs/web.md). Text from the network only ever goes into textContent.
(() => {
  const STATES = ['ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT', 'FIN_WAIT1', 'FIN_WAIT2', 'SYN_SENT', 'LAST_ACK'];
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
  const MAX_HOSTS = 8;
  const MAX_ROWS = 200;

  /** `hosts["a.b"].states.TIME_WAIT`: dots between plain keys, brackets for others and indexes. */
  function pathOf(parts) {
    let s = '';
    for (const p of parts) {
      if (typeof p === 'number') s += `[${p}]`;
      else if (/^[A-Za-z_$][\w$]*$/.test(p)) s += s ? `.${p}` : p;
      else s += `[${JSON.stringify(p)}]`;
    }
    return s;
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  /** A number from the JSON: raw text, its path in data-metric. */
  function metricEl(parts, value) {
    return el('span', { 'data-metric': pathOf(parts) }, String(value));
  }

  function row(cells, head) {
    return el('tr', {}, ...cells.map((c) => el(head ? 'th' : 'td', {}, c)));
  }

  function table(headers, rows) {
    return el('table', {}, el('thead', {}, row(headers, true)), el('tbody', {}, ...rows.map((r) => row(r))));
  }

  function fill(id, ...kids) {
    const box = document.getElementById(id);
    if (box) box.replaceChildren(...kids);
  }

  const fmtTime = (s) => new Date(s * 1000).toLocaleTimeString();

  /** One uPlot chart, its data replaced on every update; data-points says how many it holds. */
  function chart(id, title, names) {
    const box = document.getElementById(id);
    if (!box) return null;
    const opts = {
      title,
      width: Math.max(280, box.clientWidth || 480),
      height: 200,
      series: [
        { value: (_u, v) => (v == null ? '-' : fmtTime(v)) },
        ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 1.5 })),
      ],
      axes: [{}, { size: 60 }],
      legend: { live: false },
    };
    const u = new uPlot(opts, [[], ...names.map(() => [])], box);
    box.dataset.points = '0';
    return {
      set(data) {
        u.setData(data);
        box.dataset.points = String(data[0].length);
        // The largest value drawn: lets a test (or a script) see that real points arrived.
        let peak = 0;
        for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v > peak) peak = v;
        box.dataset.peak = String(peak);
      },
    };
  }

  /** `{ metrics: false }`: numbers as plain text (a report's panels whose source is not the report JSON). */
  function createPanels(options) {
    const metric = options?.metrics === false ? (_parts, value) => String(value) : metricEl;
    const charts = {
      throughput: chart('chart-throughput', 'requests/s and new connections/s', ['req/s', 'new conn/s']),
      latency: chart('chart-latency', 'latency ms', ['p50', 'p90', 'p99', 'max']),
    };
    const hostCharts = new Map();

    function hostChart(host) {
      let c = hostCharts.get(host);
      if (c || hostCharts.size >= MAX_HOSTS) return c;
      const id = `chart-states-${hostCharts.size}`;
      const box = el('div', { id, class: 'chart', 'data-host': host });
      document.getElementById('chart-states')?.append(box);
      c = chart(id, `TCP states on ${host}`, STATES);
      hostCharts.set(host, c);
      return c;
    }

    /** series: { at (epoch s), rps, newConnPerSec, latency: {p50,p90,p99,max}, states: {host: {STATE: []}} } */
    function drawSeries(s) {
      charts.throughput?.set([s.at, s.rps, s.newConnPerSec]);
      const l = s.latency;
      if (l) charts.latency?.set([l.at, l.p50, l.p90, l.p99, l.max]);
      for (const [host, states] of Object.entries(s.states || {})) {
        const zero = s.at.map(() => 0);
        hostChart(host)?.set([s.at, ...STATES.map((st) => states[st] || zero)]);
      }
    }

    /** The numbers of a snapshot-shaped view (live snapshot or a recording's summary). */
    function drawNumbers(v, base) {
      const m = v.merged;
      const mp = (...p) => [...base, 'merged', ...p];
      fill(
        'totals',
        table(
          ['requests', 'connections opened', 'requests/connection', 'req/s', 'new conn/s'],
          [
            [
              metric(mp('requests'), m.requests),
              metric(mp('connectionsOpened'), m.connectionsOpened),
              metric(mp('requestsPerConnection'), m.requestsPerConnection),
              metric(mp('rps'), m.rps),
              metric(mp('newConnPerSec'), m.newConnPerSec),
            ],
          ],
        ),
      );
      const lk = ['mean', 'p50', 'p90', 'p99', 'p999', 'max'];
      const ck = ['mean', 'p50', 'p99', 'max'];
      fill(
        'latency',
        table(
          ['ms', ...lk],
          [
            ['latency', ...lk.map((k) => metric(mp('latencyMs', k), m.latencyMs[k]))],
            ['connect', ...lk.map((k) => (ck.includes(k) ? metric(mp('connectMs', k), m.connectMs[k]) : ''))],
          ],
        ),
      );
      const errs = Object.entries(m.errors).sort((a, b) => b[1] - a[1]);
      fill(
        'errors',
        errs.length
          ? table(
              ['code', 'count'],
              errs.map(([c, n]) => [c, metric(mp('errors', c), n)]),
            )
          : el('p', {}, 'no errors'),
      );
      const hosts = Object.entries(v.hosts || {}).slice(0, MAX_HOSTS);
      fill(
        'ports',
        hosts.length
          ? table(
              ['host', 'ports in use', 'range', 'TIME_WAIT', 'full in (s)'],
              hosts.map(([h, s]) => {
                const hp = (...p) => [...base, 'hosts', h, ...p];
                const e = s.ephemeral;
                return [
                  h,
                  e ? metric(hp('ephemeral', 'inUse'), e.inUse) : '-',
                  e ? `${e.range[0]}-${e.range[1]} (${e.range[1] - e.range[0] + 1})` : '-',
                  s.states.TIME_WAIT === undefined ? '0' : metric(hp('states', 'TIME_WAIT'), s.states.TIME_WAIT),
                  s.exhaustionSeconds == null ? 'not growing' : metric(hp('exhaustionSeconds'), s.exhaustionSeconds),
                ];
              }),
            )
          : el('p', {}, 'no host sampled yet'),
      );
      const f = v.findings || [];
      fill(
        'findings',
        f.length
          ? el('ul', {}, ...f.map((x) => el('li', { class: x.severity }, x.message)))
          : el('p', {}, 'nothing to report'),
      );
    }

    function drawSources(sources) {
      fill(
        'agents',
        sources.length
          ? table(
              ['name', 'role', 'host', 'state', 'requests', 'conns opened', 'open', 'req/s'],
              sources.map((s, i) => [
                s.name,
                s.role,
                s.host,
                s.lost ? 'lost' : s.connected ? 'connected' : 'gone',
                metric(['sources', i, 'totals', 'requests'], s.totals.requests),
                metric(['sources', i, 'totals', 'connectionsOpened'], s.totals.connectionsOpened),
                metric(['sources', i, 'openConnections'], s.openConnections),
                metric(['sources', i, 'rates', 'rps'], s.rates.rps),
              ]),
            )
          : el('p', {}, 'no server or agent connected'),
      );
    }

    function drawConnections(rows) {
      fill(
        'connections',
        rows.length
          ? table(
              ['state', 'local', 'remote', 'age (s)', 'requests'],
              rows
                .slice(0, MAX_ROWS)
                .map((c) => [
                  c.state,
                  c.local,
                  c.remote,
                  c.ageMs == null ? '-' : (c.ageMs / 1000).toFixed(1),
                  c.requests ?? '-',
                ]),
            )
          : el('p', {}, 'no connections'),
      );
    }

    return { drawSeries, drawNumbers, drawSources, drawConnections };
  }

  /** A fixed-size ring of numbers per key: a page open for hours holds `size` points, no more. */
  function createRing(keys, size) {
    const bufs = Object.fromEntries(keys.map((k) => [k, new Float64Array(size)]));
    let head = 0;
    let len = 0;
    return {
      push(values) {
        for (const k of keys) bufs[k][head] = values[k];
        head = (head + 1) % size;
        len = Math.min(len + 1, size);
      },
      /** Oldest first, one plain array per key (uPlot's data). */
      arrays() {
        const out = {};
        for (const k of keys) {
          const a = new Array(len);
          for (let i = 0; i < len; i++) a[i] = bufs[k][(head - len + i + size) % size];
          out[k] = a;
        }
        return out;
      },
      get length() {
        return len;
      },
    };
  }

  window.KalabPanels = { createPanels, createRing, metric: metricEl, pathOf, el, table, fill, STATES };
})();
