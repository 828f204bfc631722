import type { Report, Tick } from '@kalab/core';
import type { Recording } from './recording.js';
import { webAsset } from './web-assets.js';

/** What a report page draws: the run's numbers, and its per-second series when there are any. */
export interface HtmlReportData {
  title: string;
  report: Report | null;
  series: {
    at: number[];
    rps: number[];
    newConnPerSec: number[];
    latency?: { at: number[]; p50: number[]; p90: number[]; p99: number[]; max: number[] };
    states: Record<string, Record<string, number[]>>;
  };
  /** The monitor's view at the end of a recorded run (hosts, errors, findings), when recorded. */
  final: Recording['summary'] | null;
}

/** Inline text that cannot end its <script> or <style> element early. */
const inline = (text: string) => text.replace(/<\/(script|style)/gi, '<\\/$1');

/** One self-contained HTML file: data, uPlot, styles and scripts inline; it loads nothing. */
export function renderHtmlReport(data: HtmlReportData): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const title = data.title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<style>${inline(webAsset('uPlot.min.css'))}</style>
<style>${inline(webAsset('style.css'))}</style>
</head>
<body>
<header><h1>${title}</h1><span id="run"></span></header>
<main>
  <div class="grid">
    <section><h2>Throughput</h2><div id="chart-throughput" class="chart"></div></section>
    <section><h2>Latency</h2><div id="chart-latency" class="chart"></div></section>
    <section><h2>TCP states per host</h2><div id="chart-states"></div></section>
    <section><h2>Ephemeral ports</h2><div id="ports"></div><h2>Errors</h2><div id="errors"></div><h2>Findings</h2><div id="findings"></div></section>
  </div>
  <section><h2>The report</h2><div id="report"></div></section>
</main>
<script type="application/json" id="kalab-data">${json}</script>
<script>${inline(webAsset('uPlot.iife.min.js'))}</script>
<script>${inline(webAsset('panels.js'))}</script>
<script>${inline(webAsset('report.js'))}</script>
</body>
</html>
`;
}

/** A recorded run: its ticks are the series, its summary the report and the final view. */
export function htmlReportFromRecording(rec: Recording): HtmlReportData {
  const run = rec.summary?.run ?? rec.header.run;
  const states: HtmlReportData['series']['states'] = {};
  rec.ticks.forEach((t, i) => {
    for (const [host, h] of Object.entries(t.hosts)) {
      const byState = states[host] ?? {};
      states[host] = byState;
      for (const [st, n] of Object.entries(h.states)) {
        const arr = byState[st] ?? new Array<number>(rec.ticks.length).fill(0);
        byState[st] = arr;
        arr[i] = n;
      }
    }
  });
  const at = rec.ticks.map((t) => t.at / 1000);
  const lat = (k: 'p50' | 'p90' | 'p99' | 'max') => rec.ticks.map((t) => t.merged.latencyMs[k]);
  return {
    title: `kalab run ${run.id}${run.target ? ` → ${run.target}` : ''}`,
    report: rec.summary?.report ?? null,
    series: {
      at,
      rps: rec.ticks.map((t) => t.merged.rps),
      newConnPerSec: rec.ticks.map((t) => t.merged.newConnPerSec),
      latency: { at, p50: lat('p50'), p90: lat('p90'), p99: lat('p99'), max: lat('max') },
      states,
    },
    final: rec.summary,
  };
}

/** A finished `kalab loadgen` run: its ticks (rates) and its report. */
export function htmlReportFromRun(report: Report, ticks: readonly Pick<Tick, 'at' | 'rates'>[]): HtmlReportData {
  return {
    title: `kalab loadgen → ${report.target}`,
    report,
    series: {
      at: ticks.map((t) => t.at / 1000),
      rps: ticks.map((t) => t.rates.rps),
      newConnPerSec: ticks.map((t) => t.rates.newConnPerSec),
      states: {},
    },
    final: null,
  };
}
