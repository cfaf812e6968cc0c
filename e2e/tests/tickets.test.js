'use strict';
// Tickets (issue 10): the ticket page with a QR code per ticket, its print layout (one ticket per
// page), the door with JavaScript off admitting a ticket once and refusing it the second time, and
// the confirmation email (the .eml the server wrote) rendered as HTML. Screenshots of each go to
// target/screenshots/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeConfirmedBooking } = require('../lib/server');
const { launchBrowser, newContext, SCREENSHOT_DIR } = require('../lib/browser');

const DOOR_PASSWORD = 'door staff only 42';
let server;
let browser;
let bookingPath;

before(async () => {
  server = await startServer({ name: 'tickets', env: { DOOR_PASSWORD } });
  browser = await launchBrowser();
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  bookingPath = await makeConfirmedBooking(server.url);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function ticketCodes() {
  const res = await fetch(`${server.url}/api${bookingPath}`);
  const json = await res.json();
  return json.tickets.map((t) => t.code);
}

test('the ticket page shows each ticket with its QR code', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}${bookingPath}`);
  const tickets = page.locator('article.ticket');
  assert.equal(await tickets.count(), 2, 'two seats, two tickets');
  const codes = await ticketCodes();
  for (let i = 0; i < 2; i += 1) {
    const svg = tickets.nth(i).locator('svg[role="img"]');
    assert.equal(await svg.count(), 1, 'an inline SVG QR code');
    const box = await svg.boundingBox();
    assert.ok(box.width >= 150 && box.height >= 150, `QR code large enough to scan: ${JSON.stringify(box)}`);
    assert.ok((await tickets.nth(i).textContent()).includes(codes[i]), 'the code is printed under it');
  }
  assert.ok(await page.isVisible('a[href$="/calendar.ics"]'), 'a calendar file is offered');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'tickets-page.png'), fullPage: true });
  assert.deepEqual(context.consoleErrors, []);
  assert.deepEqual(context.offHostRequests, []);
  await context.close();
});

test('printed, each ticket takes a page of its own and the page chrome is hidden', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}${bookingPath}`);
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.isVisible('.site-header'), false, 'no site header on paper');
  assert.equal(await page.isVisible('.confirmation'), false, 'the booking summary stays on screen');
  assert.equal(await page.isVisible('article.ticket >> nth=0'), true, 'the tickets are printed');
  const breaks = await page.$$eval('article.ticket', (els) => els.map((e) => getComputedStyle(e).breakAfter));
  assert.deepEqual(breaks, ['page', 'auto'], 'a page break after each ticket but the last');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'tickets-print.png'), fullPage: true });
  const pdf = await page.pdf({ format: 'A4' });
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) || []).length;
  assert.equal(pages, 2, 'two tickets, two printed pages');
  await context.close();
});

test('JavaScript off: the door admits a ticket once and refuses it the second time', { timeout: 30_000 }, async () => {
  const context = await newContext(browser, { javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/door`);
  assert.match(page.url(), /\/door\/login$/, 'signed out: sent to sign in');
  await page.fill('#password', DOOR_PASSWORD);
  await Promise.all([page.waitForURL(/\/door$/), page.click('button[type="submit"]')]);
  const [code] = await ticketCodes();

  await page.fill('#code', code);
  let [response] = await Promise.all([page.waitForNavigation(), page.click('.door-form button[type="submit"]')]);
  assert.equal(response.status(), 200);
  assert.equal((await page.textContent('#door-answer')).trim(), 'Admitted: VIP, Ada Lovelace');
  assert.equal(await page.isVisible('#scanner'), false, 'no camera button without JavaScript');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'door-admitted.png'), fullPage: true });

  await page.fill('#code', code);
  [response] = await Promise.all([page.waitForNavigation(), page.click('.door-form button[type="submit"]')]);
  assert.equal(response.status(), 409);
  assert.match((await page.textContent('#door-answer')).trim(), /^Already checked in at \d\d:\d\d$/);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'door-refused.png'), fullPage: true });
  assert.deepEqual(context.offHostRequests, []);
  await context.close();
});

/** The HTML part of an .eml, with its inline images (cid:) turned into data: URLs. */
function emailAsHtml(eml) {
  const boundaries = [...eml.matchAll(/boundary="([^"]+)"/g)].map((m) => m[1]);
  const parts = eml.split(new RegExp(`--(?:${boundaries.join('|')})`));
  let html = '';
  const images = {};
  for (const part of parts) {
    const [head, ...rest] = part.split(/\r?\n\r?\n/);
    const body = rest.join('\n').replace(/\s+/g, '');
    if (/Content-Type: text\/html/i.test(head)) html = Buffer.from(body, 'base64').toString('utf8');
    const cid = /Content-ID: <([^>]+)>/i.exec(head);
    if (cid && /image\/png/i.test(head)) images[cid[1]] = body;
  }
  return html.replace(/cid:([^"]+)/g, (_, id) => `data:image/png;base64,${images[id] || ''}`);
}

test('the confirmation email, rendered as HTML, shows a QR code per ticket', { timeout: 30_000 }, async () => {
  const outbox = path.join(server.dir, 'data', 'outbox');
  let files = [];
  for (let i = 0; i < 100 && files.length === 0; i += 1) {
    files = fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
    if (files.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(files.length, 1, 'one email written to data/outbox (no SMTP_URL)');
  const eml = fs.readFileSync(path.join(outbox, files[0]), 'utf8');
  assert.match(eml, /^To: ada@example\.com/m);
  const html = emailAsHtml(eml);
  assert.ok(html.includes('You&#39;re going!') || html.includes("You're going!"), 'the HTML part was found');
  const context = await newContext(browser, { viewport: { width: 640, height: 900 } });
  const page = await context.newPage();
  await page.setContent(html);
  const images = page.locator('img[src^="data:image/png"]');
  assert.equal(await images.count(), 2, 'one QR image per ticket');
  for (let i = 0; i < 2; i += 1) {
    assert.ok(await images.nth(i).evaluate((img) => img.complete && img.naturalWidth > 0), 'the PNG renders');
  }
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'email.png'), fullPage: true });
  await context.close();
});
