import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { missing } from './needs.js';

/** Debian's chromium: the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';

export const noChromium = (): boolean => missing(`chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

/** One headless Chromium per test file (root needs --no-sandbox). */
export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** What a page did: every URL it asked for (ws included), its console errors and uncaught exceptions. */
export async function watchPage(page: Page): Promise<{ urls: string[]; errors: string[] }> {
  const seen = { urls: [] as string[], errors: [] as string[] };
  page.on('request', (r) => seen.urls.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketCreated', (e) => seen.urls.push(e.url));
  return seen;
}

/** Every `[data-metric]` element of the page: its path and its text. */
export function pageMetrics(page: Page): Promise<[string, string][]> {
  return page.$$eval('[data-metric]', (els) =>
    els.map((e) => [e.getAttribute('data-metric') ?? '', e.textContent ?? ''] as [string, string]),
  );
}

/**
 * The value at a data-metric path (docs/web.md): `merged.latencyMs.p99`, `sources[0].totals.requests`,
 * `hosts["my.host"].states.TIME_WAIT`. Undefined when the path leads nowhere.
 */
export function valueAt(obj: unknown, path: string): unknown {
  const re = /(?:^|\.)([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  let v: unknown = obj;
  let end = 0;
  for (let m = re.exec(path); m; m = re.exec(path)) {
    const key = m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string));
    v = v === null || typeof v !== 'object' ? undefined : (v as Record<string | number, unknown>)[key];
    end = re.lastIndex;
  }
  if (end !== path.length) throw new Error(`not a data-metric path: ${path}`);
  return v;
}
