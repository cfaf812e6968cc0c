'use strict';
// JavaScript on: the booking result and each error (409, 402, 422) show inside the form,
// without navigation; a quantity above the seats left is refused before anything is sent.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, bookViaHttp, availability } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');
const { fillBooking, text } = require('../lib/booking');

let server;        // PAYMENT_SUCCESS_RATE=1
let failServer;    // PAYMENT_SUCCESS_RATE=0
let browser;

before(async () => {
  [server, failServer] = await Promise.all([
    startServer({ name: 'errors-ok' }),
    startServer({ name: 'errors-402', env: { PAYMENT_SUCCESS_RATE: '0' } }),
  ]);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (failServer) await failServer.stop();
});

/**
 * Opens `/`, chooses VIP and fills the form, submits it with htmx and returns the booking
 * response and the state of the form afterwards. `prepare` runs in the page before the click.
 */
async function submitVip(baseUrl, { quantity, name = 'Ada Lovelace', email = 'ada@example.com', prepare } = {}) {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(`${baseUrl}/`);
    await waitForHtmx(page);
    const before = page.url();
    await page.evaluate(() => { window.__sameDocument = true; });
    await fillBooking(page, { tier: 'vip', quantity, name, email });
    if (prepare) await page.evaluate(prepare);
    const posted = page.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST');
    await page.click('#book');
    const response = await posted;
    const isHtmx = (await response.request().allHeaders())['hx-request'] === 'true';
    const form = page.locator('#booking-form');
    await form.locator('.notice').first().waitFor({ state: 'visible', timeout: 10_000 });
    const alert = form.locator('[role="alert"]:not([hidden])');
    return {
      status: response.status(),
      isHtmx,
      sameUrl: page.url() === before,
      sameDocument: await page.evaluate(() => window.__sameDocument === true),
      alertVisible: (await alert.count()) > 0 && await alert.first().isVisible(),
      alertText: (await alert.count()) > 0 ? (await alert.first().textContent()).replace(/\s+/g, ' ').trim() : '',
      formText: (await form.textContent()).replace(/\s+/g, ' ').trim(),
      emailInvalid: await page.getAttribute('#email', 'aria-invalid'),
      vipChosen: await page.isChecked('#pick-vip'),
      quantityValue: await page.inputValue('#quantity'),
      nameValue: await page.inputValue('#name'),
      button: await text(page, '#book'),
      offHost: context.offHostRequests,
      consoleErrors: context.consoleErrors,
    };
  } finally {
    await context.close();
  }
}

function assertInPlace(r, status) {
  console.log(`${r.status} in place: ${r.alertText}`);
  assert.equal(r.status, status, `answer status (form says: ${r.formText})`);
  assert.equal(r.isHtmx, true, 'the request was made by htmx');
  assert.equal(r.sameUrl, true, 'the URL did not change');
  assert.equal(r.sameDocument, true, 'no navigation: the same document is still loaded');
  assert.equal(r.alertVisible, true, 'the message is visible inside the form');
  assert.equal(r.vipChosen, true, 'the chosen tier is kept');
  assert.deepEqual(r.offHost, [], 'only 127.0.0.1 was contacted');
  assert.deepEqual(r.consoleErrors, [], 'no console errors');
}

test('success: the live total names the order, and the result shows in place', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    const before = page.url();
    assert.equal(await text(page, '#book'), 'Book tickets', 'nothing chosen yet');
    await page.check('#pick-vip');
    assert.equal(await text(page, '#book'), 'Book 1 × VIP · $100.00');
    await page.fill('#quantity', '2');
    assert.equal(await text(page, '#book'), 'Book 2 × VIP · $200.00');
    assert.equal(await text(page, '#order-total'), 'Total $200.00: 2 × VIP at $100.00');
    // The stepper and another card update it too.
    await page.click('button.step-button[data-step="1"]');
    assert.equal(await page.inputValue('#quantity'), '3');
    await page.check('#pick-general');
    assert.equal(await text(page, '#book'), 'Book 3 × General Admission · $30.00');
    await page.click('button.step-button[data-step="-1"]');
    await page.click('button.step-button[data-step="-1"]');
    await page.click('button.step-button[data-step="-1"]');
    assert.equal(await page.inputValue('#quantity'), '1', 'the stepper stops at 1');
    await page.check('#pick-vip');
    await page.fill('#name', 'Alan Turing');
    await page.fill('#email', 'alan@example.com');
    assert.equal(await text(page, '#book'), 'Book 1 × VIP · $100.00');
    await page.click('#book');
    const ok = page.locator('#booking-form .notice.success');
    await ok.waitFor({ state: 'visible', timeout: 10_000 });
    const okText = (await ok.textContent()).replace(/\s+/g, ' ');
    assert.match(okText, /TK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}/);
    assert.match(okText, /\$100\.00/);
    assert.equal(page.url(), before);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('success')), true, 'focus moves to the result');
    // The link in the result leads to the confirmation.
    await page.click('#booking-form .notice.success a');
    await page.waitForURL(/\/bookings\/TK-/);
    assert.match(await page.textContent('main'), /Confirmed/);
    assert.deepEqual(context.consoleErrors, []);
  } finally {
    await context.close();
  }
});

test('422: an invalid email is named in place', { timeout: 30_000 }, async () => {
  const before = await availability(server.url);
  const r = await submitVip(server.url, {
    quantity: 1,
    email: 'a@b',
    // Bypass the browser's own checks so the server's validation answers.
    prepare: () => { document.getElementById('booking-form').noValidate = true; },
  });
  assertInPlace(r, 422);
  assert.match(r.alertText, /email/i, `the message names the email field: ${r.alertText}`);
  assert.equal(r.emailInvalid, 'true', 'the email input is marked aria-invalid');
  assert.equal(r.nameValue, 'Ada Lovelace', 'what the user typed is kept');
  assert.equal(r.button, 'Book 1 × VIP · $100.00');
  assert.deepEqual(await availability(server.url), before, 'no seats taken');
});

test('more tickets than the card shows left: refused in place before anything is sent', { timeout: 30_000 }, async () => {
  // Leave exactly 3 VIP seats (the previous tests took some).
  let left = (await availability(server.url)).vip;
  while (left > 3) {
    const q = Math.min(10, left - 3);
    const b = await bookViaHttp(server.url, { quantity: q });
    assert.equal(b.status, 303, `setup booking of ${q}: ${b.body.slice(0, 300)}`);
    left -= q;
  }
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    let posts = 0;
    page.on('request', (r) => { if (r.method() === 'POST') posts += 1; });
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    assert.equal(await text(page, '#tier-vip .tier-seats'), 'Only 3 left');
    await fillBooking(page, { tier: 'vip', quantity: 5, name: 'Ada Lovelace', email: 'ada@example.com' });
    const check = page.locator('#quantity-check');
    await check.waitFor({ state: 'visible' });
    const message = await text(page, '#quantity-check');
    console.log(`refused before sending: ${message}`);
    assert.match(message, /Only 3 left for VIP/);
    assert.equal(await page.getAttribute('#quantity', 'aria-invalid'), 'true');
    await page.click('#book');
    await page.waitForTimeout(500);
    assert.equal(posts, 0, 'nothing was sent');
    assert.equal((await availability(server.url)).vip, 3, 'nothing was reserved');
    // Three is fine: the message goes away.
    await page.fill('#quantity', '3');
    await check.waitFor({ state: 'hidden' });
    assert.equal(await page.getAttribute('#quantity', 'aria-invalid'), null);
    assert.equal(await text(page, '#book'), 'Book 3 × VIP · $300.00');
    assert.deepEqual(context.consoleErrors, []);
  } finally {
    await context.close();
  }
});

test('409: when the page is out of date the server refuses, says how many are left, in place', { timeout: 30_000 }, async () => {
  assert.equal((await availability(server.url)).vip, 3);
  const r = await submitVip(server.url, {
    quantity: 5,
    // A stale page: the browser's check is bypassed, so the server's 409 answers.
    prepare: () => { document.getElementById('booking-form').noValidate = true; },
  });
  assertInPlace(r, 409);
  assert.match(r.alertText, /Only 3 left/, `the message says how many are left: ${r.alertText}`);
  assert.equal(r.quantityValue, '5', 'what the user typed is kept');
  assert.equal((await availability(server.url)).vip, 3, 'no seats taken');
});

test('402: a declined payment says no seats were taken and nothing was charged, in place', { timeout: 30_000 }, async () => {
  const r = await submitVip(failServer.url, { quantity: 2 });
  assertInPlace(r, 402);
  assert.match(r.alertText, /Payment failed/, r.alertText);
  assert.match(r.alertText, /no seats were taken, nothing was charged/, r.alertText);
  assert.match(r.alertText, /Insufficient funds|Card declined|Payment gateway timeout|Invalid card details/, `names the gateway reason: ${r.alertText}`);
  assert.equal((await availability(failServer.url)).vip, 100, 'the held seats were given back');
});
