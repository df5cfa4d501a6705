// The web app's page-load and typing budget on a big store (issue 6), for
// `rapport-bench --search-leads N --browser-budget`: a cold load to the login form, the
// leads table after login, search-as-you-type (from the last keystroke to the results of
// the typed query on screen) for several queries, and the time to render 100 rows. Uses
// the app's own Performance API marks (`rapport:login-ready`, `rapport:leads-ready`,
// `rapport:results`, `rapport:table-render`).
//
// Environment: RAPPORT_URL, RAPPORT_USER1_EMAIL, RAPPORT_USER1_PASSWORD, CHROMIUM.
// Prints one `METRICS {...}` line and `OK`, or `FAIL: <why>` and exits 1.
import { chromium } from 'playwright-core';
import { gzipSync } from 'node:zlib';

const base = (process.env.RAPPORT_URL || '').replace(/\/$/, '');
const email = process.env.RAPPORT_USER1_EMAIL;
const password = process.env.RAPPORT_USER1_PASSWORD;
if (!base || !email || !password) {
  console.error('FAIL: RAPPORT_URL, RAPPORT_USER1_EMAIL and RAPPORT_USER1_PASSWORD are required');
  process.exit(2);
}
const STEP = 60_000;
// Typed as a user would (60 ms between keys); each is typed into an empty search bar.
const QUERIES = ['acme', 'status:hot', 'john smith', 'pricing', 'sort:name', 'custom.seats > 400'];
const TYPING_RUNS = 3;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
    timeout: STEP,
  });
  const page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
  const metrics = {};

  await page.goto(`${base}/`, { timeout: STEP });
  await page.locator('#login-email').waitFor({ timeout: STEP });
  metrics.first_render_ms = await page.evaluate(() => Math.round(performance.getEntriesByName('rapport:login-ready')[0]?.startTime ?? -1));
  const scripts = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => e.name).filter((u) => /\.m?js(\?|$)/.test(new URL(u).pathname)));
  metrics.js_gzip_bytes = 0;
  for (const url of new Set(scripts)) {
    const res = await fetch(url);
    metrics.js_gzip_bytes += gzipSync(Buffer.from(await res.arrayBuffer()), { level: 9 }).length;
  }

  const loginStarted = Date.now();
  await page.fill('#login-email', email);
  await page.fill('#login-password', password);
  await page.keyboard.press('Enter');
  await page.locator('table.results tbody tr').first().waitFor({ timeout: STEP });
  metrics.login_to_leads_ms = Date.now() - loginStarted;

  // A cold load of the leads screen with the session (what a returning user sees).
  await page.reload();
  await page.locator('table.results tbody tr').first().waitFor({ timeout: STEP });
  metrics.leads_first_render_ms = await page.evaluate(() => Math.round(performance.getEntriesByName('rapport:leads-ready')[0]?.startTime ?? -1));

  await page.evaluate(() => {
    window.__lastKey = 0;
    document.addEventListener('keydown', (e) => { window.__lastKey = e.timeStamp; }, true);
  });
  const input = page.locator('#query-input');
  metrics.search_as_you_type_ms = {};
  for (const query of QUERIES) {
    const times = [];
    for (let run = 0; run < TYPING_RUNS; run++) {
      await input.fill('');
      await page.waitForTimeout(400);
      await input.focus();
      await page.keyboard.type(query, { delay: 60 });
      const handle = await page.waitForFunction((q) => {
        const marks = performance.getEntriesByName('rapport:results').filter((m) => m.detail && m.detail.query === q && m.startTime >= window.__lastKey);
        return marks.length ? marks[0].startTime - window.__lastKey : false;
      }, query, { timeout: STEP });
      times.push(Math.round(await handle.jsonValue()));
    }
    metrics.search_as_you_type_ms[query] = { median: median(times), max: Math.max(...times) };
  }

  metrics.table_100_rows_ms = await page.evaluate(() => {
    const durations = performance.getEntriesByName('rapport:table-render').map((m) => m.duration);
    const rendered = performance.getEntriesByName('rapport:table-rendered').filter((m) => m.detail && m.detail.rows === 100);
    if (!rendered.length || !durations.length) return null;
    const sorted = [...durations].sort((a, b) => a - b);
    return { median: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10, max: Math.round(sorted[sorted.length - 1] * 10) / 10, renders: sorted.length };
  });
  console.log(`METRICS ${JSON.stringify(metrics)}`);
  console.log('OK');
  await browser.close();
} catch (e) {
  console.log(`FAIL: ${e.message.split('\n')[0]}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
