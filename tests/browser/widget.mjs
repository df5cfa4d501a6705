// Drives the website chat widget in headless Chromium, as a visitor would, with the
// keyboard only; acts as the operator through the REST API.
//
//   node tests/browser/widget.mjs PAGE_URL RAPPORT_BASE API_KEY SCREENSHOT [WEBSITE_ID]
//
// (or the environment: WIDGET_PAGE_URL, RAPPORT_BASE, RAPPORT_API_KEY, WIDGET_SCREENSHOT,
// WEBSITE_ID; CHROMIUM for the browser binary). WIDGET_NO_WEBSOCKET=1 makes every
// websocket fail in the page, so the widget falls back to long polling. Prints `CONVERSATION <id>` and
// `OK` and exits 0 on success; prints `FAIL: <why>` and exits 1 otherwise.
import { chromium } from 'playwright-core';
import { restClient, step } from './rest.mjs';

const [pageUrl, base, apiKey, screenshot, websiteId] = [
  process.argv[2] || process.env.WIDGET_PAGE_URL,
  (process.argv[3] || process.env.RAPPORT_BASE || '').replace(/\/$/, ''),
  process.argv[4] || process.env.RAPPORT_API_KEY,
  process.argv[5] || process.env.WIDGET_SCREENSHOT,
  process.argv[6] || process.env.WEBSITE_ID,
];
if (!pageUrl || !base || !apiKey || !screenshot) {
  console.error('usage: node widget.mjs PAGE_URL RAPPORT_BASE API_KEY SCREENSHOT [WEBSITE_ID]');
  process.exit(2);
}
const STEP = 20_000; // every wait below is bounded by this
const GREETING = process.env.WIDGET_GREETING || 'Hi! Ask us anything.';
const FIRST_LINE = 'Hello from the browser test';
const SECOND_LINE = 'Do you ship to Norway?';
const REPLY = `Yes, we ship to Norway! (reply ${Date.now()})`;
const OFFLINE_MESSAGE = 'Written while offline';
const LONG_POLL = process.env.WIDGET_NO_WEBSOCKET === '1';

const rest = restClient(base, apiKey, STEP);

const pageLog = [];
let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
    timeout: STEP,
  });
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  if (LONG_POLL) {
    await context.addInitScript(() => {
      window.WebSocket = function WebSocket() { throw new Error('websockets are blocked in this test'); };
    });
  }
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => pageLog.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));

  const widget = page.locator('#rapport-chat');
  const launcher = widget.locator('button.launcher');
  const input = widget.locator('textarea');
  const panel = widget.locator('[role="dialog"]');

  await step('the page loads', () => page.goto(pageUrl, { timeout: STEP }));
  await step('the widget adds its launcher', () => launcher.waitFor({ state: 'visible' }));
  await step('the widget connects', () =>
    widget.locator('#status').filter({ hasNotText: /Connecting/ }).waitFor({ state: 'attached' }));

  await step('Tab reaches the launcher', async () => {
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      const onLauncher = await page.evaluate(() => {
        const host = document.activeElement;
        return host?.id === 'rapport-chat' && !!host.shadowRoot.activeElement?.classList.contains('launcher');
      });
      if (onLauncher) return;
    }
    throw new Error('30 presses of Tab never focused the launcher');
  });
  await step('Enter opens the panel with the message box focused', async () => {
    await page.keyboard.press('Enter');
    await panel.waitFor({ state: 'visible' });
    await page.waitForFunction(
      () => document.getElementById('rapport-chat')?.shadowRoot.activeElement?.id === 'input',
      null,
      { timeout: STEP },
    );
  });
  await step('the greeting shows', () => widget.getByText(GREETING).waitFor());

  await step('Shift+Enter makes a new line and Enter sends', async () => {
    await page.keyboard.type(FIRST_LINE);
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type(SECOND_LINE);
    const typed = await input.inputValue();
    if (typed !== `${FIRST_LINE}\n${SECOND_LINE}`) throw new Error(`the box holds ${JSON.stringify(typed)}`);
    await page.keyboard.press('Enter');
    // Stored: the server's answer (or the websocket echo) gives the message its id.
    await widget.locator('li.visitor[data-id]', { hasText: SECOND_LINE }).waitFor();
    if (await input.inputValue()) throw new Error('the message box was not emptied');
  });

  const conversation = await step('the conversation shows in the operator API', async () => {
    const query = websiteId ? `conversation/?website_id=${encodeURIComponent(websiteId)}` : 'conversation/';
    const deadline = Date.now() + STEP;
    for (;;) {
      const list = await rest('GET', query);
      const found = (list.data || [])[0];
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`GET /api/v1/${query} lists no conversation: ${JSON.stringify(list)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  console.log(`CONVERSATION ${conversation.id}`);

  await step('the operator replies through the API', () =>
    rest('POST', `conversation/${conversation.id}/message/`, { body: REPLY }));
  await step("the operator's reply shows in the widget", () =>
    widget.locator('li.operator', { hasText: REPLY }).waitFor());

  await step('a message written offline is sent once the connection is back', async () => {
    await context.setOffline(true);
    await input.focus();
    await page.keyboard.type(OFFLINE_MESSAGE);
    await page.keyboard.press('Enter');
    const sent = widget.locator('li.visitor', { hasText: OFFLINE_MESSAGE });
    await sent.waitFor();
    if (LONG_POLL) {
      // Over HTTP the send fails and waits in the outbox (the websocket may hold a frame
      // back by itself, so only this transport shows it).
      await page.waitForTimeout(1500);
      if (await sent.getAttribute('data-id')) throw new Error('the message was stored while offline');
    }
    await context.setOffline(false);
    await widget.locator('li.visitor[data-id]', { hasText: OFFLINE_MESSAGE }).waitFor();
  });

  await step('the screenshot is written', () => page.screenshot({ path: screenshot }));
  console.log(`SCREENSHOT ${screenshot}`);

  await step('Escape closes the panel and focus returns to the launcher', async () => {
    await input.focus();
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    const back = await page.evaluate(
      () => !!document.getElementById('rapport-chat').shadowRoot.activeElement?.classList.contains('launcher'),
    );
    if (!back) throw new Error('focus is not on the launcher');
  });
  console.log('OK');
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  if (pageLog.length) console.error(`the page said:\n  ${pageLog.join('\n  ')}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
