'use strict';
// JavaScript off: the full booking works on `/` and on `/basic` and ends on the confirmation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, availability, bookViaHttp } = require('../lib/server');
const { launchBrowser, newContext } = require('../lib/browser');
const { fillBooking, text } = require('../lib/booking');

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
    assert.equal(await page.locator('#booking-form').count(), 1, 'one form');
    assert.equal(await page.locator('.step-button:visible').count(), 0, 'the stepper needs JavaScript and stays hidden');
    assert.equal(await page.isVisible('#availability'), false, 'no "updates live" note: nothing polls');
    await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
    const [response] = await Promise.all([
      page.waitForNavigation({ url: REFERENCE_PATH }),
      page.click('#book'),
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
    assert.equal(await page.locator('form').count(), 1, 'one form');
    await page.check('#b-tier-vip');
    await page.fill('#b-quantity', '3');
    await page.fill('#b-name', 'Alan Turing');
    await page.fill('#b-email', 'alan@example.com');
    const form = page.locator('form', { has: page.locator('#b-name') });
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
    await page.check('#b-tier-vip');
    await page.fill('#b-quantity', '11');
    await page.fill('#b-name', 'Alan Turing');
    await page.fill('#b-email', 'alan@example.com');
    const form = page.locator('form', { has: page.locator('#b-name') });
    const [response] = await Promise.all([
      page.waitForNavigation(),
      form.locator('button[type="submit"]').click(),
    ]);
    assert.equal(response.status(), 422);
    const body = (await page.textContent('body')).replace(/\s+/g, ' ');
    assert.match(body, /10/, `the message gives the limit: ${body.slice(0, 400)}`);
    assert.equal(await page.inputValue('#b-name'), 'Alan Turing', 'typed values are kept');
    assert.equal(await page.isChecked('#b-tier-vip'), true, 'the chosen tier is kept');
  });
  assert.deepEqual(await availability(server.url), before, 'no seats taken');
});

test('JavaScript off: more than is left re-renders / with the number left, the choice kept', { timeout: 30_000 }, async () => {
  // Leave exactly 2 General Admission seats: take 998 of the 1,000 in bookings of 10 and 8.
  const left = (await availability(server.url)).general;
  assert.equal(left, 1000);
  for (let i = 0; i < 99; i += 1) assert.equal((await bookViaHttp(server.url, { tier: 'general', quantity: 10 })).status, 303);
  assert.equal((await bookViaHttp(server.url, { tier: 'general', quantity: 8 })).status, 303);
  await withNoJsPage(async (page) => {
    await page.goto(`${server.url}/`);
    assert.equal(await text(page, '#tier-general .tier-seats'), 'Only 2 left');
    await fillBooking(page, { tier: 'general', quantity: 4, name: 'Alan Turing', email: 'alan@example.com' });
    assert.equal(await text(page, '#book'), 'Book tickets', 'without JavaScript the button cannot follow the choice');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#book')]);
    assert.equal(response.status(), 409);
    assert.match(await text(page, '#form-error'), /Only 2 left for General Admission/);
    assert.equal(await page.isChecked('#pick-general'), true, 'the chosen tier is kept');
    assert.equal(await page.inputValue('#quantity'), '4');
    assert.equal(await page.inputValue('#name'), 'Alan Turing');
    assert.equal(await text(page, '#book'), 'Book 4 × General Admission · $40.00', 'the re-rendered button names the order');
  });
  assert.equal((await availability(server.url)).general, 2, 'no seats taken');
});
