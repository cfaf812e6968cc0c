'use strict';
// JavaScript off: the full booking works on `/` and on `/basic` and ends on the confirmation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, availability } = require('../lib/server');
const { launchBrowser, newContext } = require('../lib/browser');

const REFERENCE_PATH = /\/bookings\/TK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}$/;

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'nojs' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function withNoJsPage(fn) {
  const context = await newContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    await fn(page);
    assert.deepEqual(context.offHostRequests, [], 'only 127.0.0.1 was contacted');
  } finally {
    await context.close();
  }
}

async function assertConfirmation(page, { quantity, total }) {
  assert.match(new URL(page.url()).pathname, REFERENCE_PATH, `ended on the confirmation: ${page.url()}`);
  const main = (await page.textContent('body')).replace(/\s+/g, ' ');
  assert.match(main, /Confirmed/, 'status Confirmed shown');
  assert.match(main, /VIP/);
  assert.match(main, new RegExp(`Quantity ?${quantity}\\b`), `quantity ${quantity} shown`);
  assert.ok(main.includes(total), `total ${total} shown`);
  assert.match(main, /txn_\d+_[a-z0-9]{9}/, 'transaction id shown');
  const reference = new URL(page.url()).pathname.split('/').pop();
  assert.ok(main.includes(reference), 'reference shown');
}

test('JavaScript off: booking on / ends on the confirmation page', { timeout: 30_000 }, async () => {
  const before = (await availability(server.url)).vip;
  await withNoJsPage(async (page) => {
    await page.goto(`${server.url}/`);
    // Page scripts did not run: htmx never loaded.
    assert.equal(await page.evaluate(() => typeof window.htmx), 'undefined', 'JavaScript really is off');
    await page.fill('#quantity-vip', '2');
    await page.fill('#name-vip', 'Ada Lovelace');
    await page.fill('#email-vip', 'ada@example.com');
    const [response] = await Promise.all([
      page.waitForNavigation({ url: REFERENCE_PATH }),
      page.click('#book-vip'),
    ]);
    assert.equal(response.status(), 200);
    await assertConfirmation(page, { quantity: 2, total: '$200.00' });
  });
  assert.equal((await availability(server.url)).vip, before - 2);
});

test('JavaScript off: booking on /basic ends on the confirmation page', { timeout: 30_000 }, async () => {
  const before = (await availability(server.url)).vip;
  await withNoJsPage(async (page) => {
    await page.goto(`${server.url}/basic`);
    assert.equal(await page.locator('script').count(), 0, '/basic has no scripts');
    await page.fill('#b-quantity-vip', '3');
    await page.fill('#b-name-vip', 'Alan Turing');
    await page.fill('#b-email-vip', 'alan@example.com');
    const form = page.locator('form', { has: page.locator('#b-name-vip') });
    await Promise.all([
      page.waitForNavigation({ url: REFERENCE_PATH }),
      form.locator('button[type="submit"]').click(),
    ]);
    await assertConfirmation(page, { quantity: 3, total: '$300.00' });
  });
  assert.equal((await availability(server.url)).vip, before - 3);
});

test('JavaScript off: an invalid field on /basic re-renders the page with the message', { timeout: 30_000 }, async () => {
  const before = await availability(server.url);
  await withNoJsPage(async (page) => {
    await page.goto(`${server.url}/basic`);
    await page.fill('#b-quantity-vip', '11');
    await page.fill('#b-name-vip', 'Alan Turing');
    await page.fill('#b-email-vip', 'alan@example.com');
    const form = page.locator('form', { has: page.locator('#b-name-vip') });
    const [response] = await Promise.all([
      page.waitForNavigation(),
      form.locator('button[type="submit"]').click(),
    ]);
    assert.equal(response.status(), 422);
    const body = (await page.textContent('body')).replace(/\s+/g, ' ');
    assert.match(body, /10/, `the message gives the limit: ${body.slice(0, 400)}`);
    assert.equal(await page.inputValue('#b-name-vip'), 'Alan Turing', 'typed values are kept');
  });
  assert.deepEqual(await availability(server.url), before, 'no seats taken');
});
