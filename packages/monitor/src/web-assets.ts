import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { LAB_VERSION } from '@kalab/core';

// The page's files ship in the package's web/ folder; uPlot comes from its own package, so the
// page never needs the internet.
const WEB_DIR = new URL('../web/', import.meta.url);
const UPLOT_DIR = new URL('.', `file://${createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js')}`);

interface Asset {
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

function load(dir: URL, file: string): Asset {
  const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
  return { type, body: readFileSync(new URL(file, dir)) };
}

let cache: Map<string, Asset> | undefined;

/** Everything the page loads, read once: `/` and `/assets/NAME`. */
function assets(): Map<string, Asset> {
  if (cache) return cache;
  const page = load(WEB_DIR, 'index.html');
  cache = new Map<string, Asset>([
    ['/', { type: page.type, body: Buffer.from(page.body.toString('utf8').replace('{{VERSION}}', LAB_VERSION)) }],
    ['/assets/uPlot.iife.min.js', load(UPLOT_DIR, 'uPlot.iife.min.js')],
    ['/assets/uPlot.min.css', load(UPLOT_DIR, 'uPlot.min.css')],
    ['/assets/panels.js', load(WEB_DIR, 'panels.js')],
    ['/assets/live.js', load(WEB_DIR, 'live.js')],
    ['/assets/style.css', load(WEB_DIR, 'style.css')],
  ]);
  return cache;
}

/** The text of one of the page's files, for the self-contained HTML reports. */
export function webAsset(
  name: 'uPlot.iife.min.js' | 'uPlot.min.css' | 'panels.js' | 'style.css' | 'report.js',
): string {
  if (name === 'report.js') return readFileSync(new URL(name, WEB_DIR), 'utf8');
  return (assets().get(`/assets/${name}`) as Asset).body.toString('utf8');
}

/**
 * Serves the live page (`/`) and its files (`/assets/*`); false when `path` is neither. The
 * page's policy allows only this origin: no script, style or connection goes elsewhere.
 */
export function serveWeb(path: string, head: boolean, res: ServerResponse): boolean {
  const a = assets().get(path);
  if (!a) return false;
  res.writeHead(200, {
    'content-type': a.type,
    'content-length': a.body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(head ? undefined : a.body);
  return true;
}
