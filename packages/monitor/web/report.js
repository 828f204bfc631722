// A self-contained report: draws the run's series and lists every number of its
// kalab.report/v1 JSON, each with data-metric="<path in the report JSON>" (docs/web.md).
(() => {
  const P = window.KalabPanels;
  const data = JSON.parse(document.getElementById('kalab-data').textContent);
  // The final view's numbers come from the monitor, not the report JSON: shown without data-metric.
  const panels = P.createPanels({ metrics: false });
  panels.drawSeries(data.series);
  if (data.final) panels.drawNumbers(data.final, []);
  else if (data.report) {
    const r = data.report;
    const merged = {
      requests: r.requests.completed,
      connectionsOpened: r.connections.opened,
      requestsPerConnection: r.connections.requestsPerConnection,
      rps: r.throughput.rps,
      newConnPerSec: 0,
      latencyMs: r.latencyMs,
      connectMs: r.connectMs,
      errors: r.errors,
    };
    panels.drawNumbers({ merged, hosts: {}, findings: r.findings }, []);
  }
  if (!data.report) {
    P.fill('report', P.el('p', {}, 'no report: the run did not finish while it was recorded'));
    return;
  }
  const SKIP = new Set(['latencyHistogram', 'connectHistogram', 'schema']);
  const rows = [];
  (function walk(v, parts) {
    if (typeof v === 'number') rows.push([P.pathOf(parts), P.metric(parts, v)]);
    else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], [...parts, i]);
    } else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) if (!(parts.length === 0 && SKIP.has(k))) walk(x, [...parts, k]);
  })(data.report, []);
  P.fill('report', P.table(['field', 'value'], rows));
})();
