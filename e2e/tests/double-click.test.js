'use strict';
// Double-clicking "Book" makes exactly one booking, with JavaScript on and off.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, availability } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');
const { fillBooking } = require('../lib/booking');

let server;
let browser;

before(async () => {
  // A slower gateway widens the window in which a second click could slip through.
  server = await startServer({ name: 'dblclick', env: { PAYMENT_DELAY_MS: '300' } });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('JavaScript on: double-clicking Book makes exactly one booking', { timeout: 30_000 }, async () => {
  const before = (await availability(server.url)).vip;
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    const posts = [];
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/bookings')) posts.push(r); });
    await fillBooking(page, { tier: 'vip', quantity: 3, name: 'Ada Lovelace', email: 'ada@example.com' });
    await page.dblclick('#book');
    await page.locator('#booking-form .notice.success').waitFor({ state: 'visible', timeout: 10_000 });
    // Let any second request finish before counting seats.
    await page.waitForTimeout(1_000);
    const refs = await page.locator('#booking-form .reference').allTextContents();
    assert.equal(refs.length, 1, `one result shown: ${refs}`);
    console.log(`JavaScript on: ${posts.length} POST /bookings sent for the double click`);
    assert.equal((await availability(server.url)).vip, before - 3, 'VIP dropped by exactly 3, once');
    await page.reload();
    assert.equal((await page.textContent('#tier-vip .tier-seats')).trim(), `${before - 3} left`);
    assert.deepEqual(context.consoleErrors, []);
  } finally {
    await context.close();
  }
});

test('JavaScript off: double-clicking Book makes exactly one booking', { timeout: 30_000 }, async () => {
  const before = (await availability(server.url)).vip;
  const context = await newContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/`);
    let posts = 0;
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/bookings')) posts += 1; });
    await fillBooking(page, { tier: 'vip', quantity: 4, name: 'Alan Turing', email: 'alan@example.com' });
    await page.dblclick('#book');
    // The second click's submit may abort the first navigation (the browser's choice), so
    // poll the address instead of waiting on one navigation.
    const deadline = Date.now() + 10_000;
    while (!/\/bookings\/TK-/.test(page.url())) {
      assert.ok(Date.now() < deadline, `never reached a confirmation page (at ${page.url()})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await page.waitForLoadState('load');
    await page.waitForTimeout(1_000);
    console.log(`JavaScript off: ${posts} POST /bookings sent for the double click`);
    assert.match(await page.textContent('body'), /Confirmed/);
    assert.equal((await availability(server.url)).vip, before - 4, 'VIP dropped by exactly 4, once');
  } finally {
    await context.close();
  }
});

test('JavaScript on: a request the network sends twice (same idempotency key) books once', { timeout: 30_000 }, async () => {
  const before = (await availability(server.url)).vip;
  const context = await newContext(browser);
  const page = await context.newPage();
  const references = [];
  try {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    // Simulate a browser/proxy retry: the same POST (same body, same key) goes out twice at once.
    await page.route('**/bookings', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const [first, second] = await Promise.all([route.fetch(), route.fetch()]);
      for (const r of [first, second]) {
        const m = /TK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}/.exec(await r.text());
        references.push(m ? m[0] : `status ${r.status()}`);
      }
      return route.fulfill({ response: second });
    });
    await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
    await page.click('#book');
    await page.locator('#booking-form .notice.success').waitFor({ state: 'visible', timeout: 10_000 });
    console.log(`duplicated POST answered with references ${references.join(' and ')}`);
    assert.equal(references.length, 2);
    assert.equal(references[0], references[1], 'both attempts answer with the same booking');
    assert.equal((await availability(server.url)).vip, before - 2, 'VIP dropped by exactly 2, once');
  } finally {
    await context.close();
  }
});
