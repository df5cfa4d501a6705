// The web app's inbox and settings in headless Chromium: an operator logs in, a visitor
// writes from the chat widget on a page of another origin, the conversation shows in the
// inbox live, the operator answers, the visitor sees the answer. Then every settings
// screen opens. Setup (a website) goes through the REST API with user 1's API key.
//
// Environment: RAPPORT_URL, RAPPORT_USER1_EMAIL, RAPPORT_USER1_PASSWORD, RAPPORT_API_KEY,
// ARTIFACTS_DIR (screenshots), CHROMIUM (default /usr/bin/chromium). The customer page is
// served by this script on another port, unless WIDGET_PAGE_URL names one (it gets the
// widget key as `?key=`). Prints `OK` and exits 0 on success, `FAIL: <why>` and exits 1.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { restClient, step } from './rest.mjs';

const base = (process.env.RAPPORT_URL || '').replace(/\/$/, '');
const email = process.env.RAPPORT_USER1_EMAIL;
const password = process.env.RAPPORT_USER1_PASSWORD;
const apiKey = process.env.RAPPORT_API_KEY;
const artifacts = process.env.ARTIFACTS_DIR || '.';
if (!base || !email || !password || !apiKey) {
  console.error('FAIL: set RAPPORT_URL, RAPPORT_USER1_EMAIL, RAPPORT_USER1_PASSWORD and RAPPORT_API_KEY');
  process.exit(1);
}
mkdirSync(artifacts, { recursive: true });
const STEP = 20_000; // every wait below is bounded by this
const stamp = Date.now().toString(36);
const VISITOR_LINE = `Hello, is anyone there? (${stamp})`;
const REPLY = `Yes, how can we help? (${stamp})`;
const NOTE = `Internal: check their plan (${stamp})`;
const SETTINGS = ['account', 'team', 'statuses', 'pipelines', 'custom-fields', 'api-keys', 'websites', 'webhooks', 'slack'];

const rest = restClient(base, apiKey, STEP);

/** A customer's page with the widget, on another port than Rapport's (another origin). */
function servePage(widgetKey) {
  const page = () => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme support</title></head>
<body><h1>Acme</h1><p>Questions? Use the chat.</p>
<script src="${base}/widget.js" data-key="${widgetKey()}" async></script></body></html>`;
  const server = createServer((req, res) => {
    if (req.url !== '/') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const log = [];
let browser;
let server;
try {
  let key = '';
  let pageUrl = process.env.WIDGET_PAGE_URL;
  if (!pageUrl) {
    server = await servePage(() => key);
    pageUrl = `http://127.0.0.1:${server.address().port}/`;
  }
  const me = await step('the API key works', () => rest('GET', 'me/'));
  const website = await step('a website is created through the API', () =>
    rest('POST', 'website/', {
      name: `Acme ${stamp}`,
      allowed_origins: [new URL(pageUrl).origin],
      operators: [me.id],
      greeting: 'Hi! Ask us anything.',
    }));
  key = website.widget_key;
  if (process.env.WIDGET_PAGE_URL) pageUrl += `${pageUrl.includes('?') ? '&' : '?'}key=${encodeURIComponent(key)}`;

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
    headless: true,
    timeout: STEP,
  });
  const app = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  app.setDefaultTimeout(STEP);
  app.on('console', (m) => m.type() === 'error' && log.push(`app console.error: ${m.text()}`));
  app.on('pageerror', (e) => log.push(`app page error: ${e.message}`));

  await step('the app shows its login form', () => app.goto(`${base}/`));
  await step('user 1 logs in', async () => {
    await app.getByLabel('Email').fill(email);
    await app.getByLabel('Password').fill(password);
    await app.getByRole('button', { name: /^(log in|sign in)$/i }).click();
    await app.getByRole('navigation', { name: 'Main' }).waitFor();
  });
  await step('the inbox opens', async () => {
    await app.evaluate(() => (location.hash = '#/inbox'));
    await app.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    await app.getByRole('button', { name: /^All/ }).click();
    await app.getByRole('button', { name: /^Open/ }).click();
  });

  const visitorContext = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const visitor = await visitorContext.newPage();
  visitor.setDefaultTimeout(STEP);
  visitor.on('pageerror', (e) => log.push(`customer page error: ${e.message}`));
  const widget = visitor.locator('#rapport-chat');
  await step('the customer page loads the widget', async () => {
    await visitor.goto(pageUrl);
    await widget.locator('button.launcher').click();
    await widget.locator('textarea').waitFor();
  });
  await step('the visitor sends a message', async () => {
    await widget.locator('textarea').fill(VISITOR_LINE);
    await widget.locator('textarea').press('Enter');
    await widget.locator('li.visitor[data-id]', { hasText: VISITOR_LINE }).waitFor();
  });

  const item = app.locator('.conversations a.conv.unread', { hasText: VISITOR_LINE });
  await step('the conversation shows in the inbox live, unread', () => item.waitFor());
  await step('the Open tab counts it unread', () => app.locator('button.tab[aria-pressed="true"] .badge').waitFor());
  await step('inbox.png', () => app.screenshot({ path: join(artifacts, 'inbox.png') }));

  await step('j and k move between conversations', async () => {
    await item.focus();
    await app.keyboard.press('j');
    await app.keyboard.press('k');
    const back = await item.evaluate((el) => el === document.activeElement);
    if (!back) throw new Error('after j then k the focus is not on the newest conversation');
  });
  await step('Enter on the focused conversation opens it', async () => {
    await item.focus();
    await app.keyboard.press('Enter');
    await app.locator('.messages .msg.visitor', { hasText: VISITOR_LINE }).waitFor();
  });
  await step('opening it marks it read', async () => {
    await app.locator('.conversations a.conv[aria-current="page"]:not(.unread)').waitFor();
    const id = decodeURIComponent(new URL(app.url()).hash.split('/').pop());
    const conv = await rest('GET', `conversation/${id}`);
    if (conv.unread !== 0) throw new Error(`unread is ${conv.unread}`);
  });
  await step('the reply box has the focus', () =>
    app.waitForFunction(() => document.activeElement && document.activeElement.id === 'reply-box'));

  await step('"Visitor is typing…" shows while the visitor types', async () => {
    await widget.locator('textarea').pressSequentially('I am typ', { delay: 30 });
    await app.locator('.typing', { hasText: /is typing/ }).waitFor();
  });

  await step('the operator replies with Enter', async () => {
    const box = app.getByLabel('Reply');
    await box.fill(REPLY);
    await box.press('Enter');
    await app.locator('.messages .msg.operator:not(.sending)', { hasText: REPLY }).waitFor();
    if (await box.inputValue()) throw new Error('the reply box was not emptied');
  });
  await step('the reply shows in the widget', () => widget.locator('li.operator', { hasText: REPLY }).waitFor());
  await step('widget-reply.png', () => visitor.screenshot({ path: join(artifacts, 'widget-reply.png') }));

  await step('the reply box keeps its draft across a reload', async () => {
    const draft = `Half-written answer (${stamp})`;
    await app.getByLabel('Reply').fill(draft);
    await app.getByText('Draft saved').waitFor();
    await app.reload();
    await app.waitForFunction((d) => document.getElementById('reply-box')?.value === d, draft, { timeout: STEP });
    await app.getByLabel('Reply').fill('');
  });
  await step('a private note shows for operators only', async () => {
    await app.getByLabel('Private note', { exact: true }).check();
    const box = app.getByLabel(/^Private note \(/);
    await box.fill(NOTE);
    await box.press('Enter');
    await app.locator('.messages .msg.note:not(.sending)', { hasText: NOTE }).waitFor();
    await visitor.waitForTimeout(1000);
    if (await widget.getByText(NOTE).count()) throw new Error('the visitor sees the private note');
  });
  await step('conversation.png', () => app.screenshot({ path: join(artifacts, 'conversation.png') }));

  await step('Resolve moves it out of the open tab', async () => {
    await app.getByRole('button', { name: 'Resolve', exact: true }).click();
    await app.getByRole('button', { name: 'Reopen', exact: true }).waitFor();
    await app.locator('.conversations a.conv', { hasText: VISITOR_LINE }).waitFor({ state: 'detached' });
  });

  for (const screen of SETTINGS) {
    await step(`settings: ${screen}`, async () => {
      await app.evaluate((s) => (location.hash = `#/settings/${s}`), screen);
      await app.locator(`.settings [data-screen="${screen}"][data-ready]`).waitFor();
      await app.screenshot({ path: join(artifacts, `settings-${screen}.png`), fullPage: true });
    });
  }
  await step('a lead status is added from settings', async () => {
    await app.evaluate(() => (location.hash = '#/settings/statuses'));
    const label = `Hot ${stamp}`;
    await app.getByLabel('New lead status').fill(label);
    await app.getByRole('button', { name: 'Add lead status' }).click();
    await app.getByLabel(`Name of lead status ${label}`).waitFor();
    const statuses = await rest('GET', 'status/lead/');
    if (!statuses.data.some((s) => s.label === label)) throw new Error(`not stored: ${JSON.stringify(statuses.data)}`);
  });
  await step("the server's field error shows next to the field", async () => {
    await app.getByLabel('New lead status').fill(`Hot ${stamp}`);
    await app.getByRole('button', { name: 'Add lead status' }).click();
    await app.locator('#add-status-lead- ~ .field-error', { hasText: 'already exists' }).waitFor();
  });
  await step('the widget snippet shows for the website', async () => {
    await app.evaluate((id) => (location.hash = `#/settings/websites/${id}`), website.id);
    await app.locator('.settings code', { hasText: `data-key="${website.widget_key}"` }).waitFor();
  });
  await step('an invalid Slack URL is refused next to its field', async () => {
    await app.getByLabel('Slack webhook URL').fill('ftp://example.com/hook');
    await app.getByRole('button', { name: 'Save website' }).click();
    await app.locator('#ws-slack-error', { hasText: 'not a valid URL' }).waitFor();
    await app.evaluate(() => window.scrollTo(0, 0));
    await app.screenshot({ path: join(artifacts, 'settings-website.png'), fullPage: true });
  });
  await step('an API key is shown once, then listed', async () => {
    await app.evaluate(() => (location.hash = '#/settings/api-keys'));
    await app.getByLabel("New key's name").fill(`Browser test ${stamp}`);
    await app.getByRole('button', { name: 'Create key' }).click();
    const key = await app.locator('.created code').textContent();
    const answer = await fetch(`${base}/api/v1/me/`, { headers: { Authorization: 'Basic ' + Buffer.from(`${key}:`).toString('base64') } });
    if (!answer.ok) throw new Error(`the new key does not authenticate: ${answer.status}`);
    await app.getByRole('cell', { name: `Browser test ${stamp}`, exact: true }).waitFor();
  });

  const errors = log.filter((l) => l.includes('page error'));
  if (errors.length) throw new Error(`the app threw: ${errors.join('; ')}`);
  console.log('OK');
  await browser.close();
  server?.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  if (log.length) console.error(`the pages said:\n  ${log.join('\n  ')}`);
  await browser?.close().catch(() => {});
  server?.close();
  process.exit(1);
}
