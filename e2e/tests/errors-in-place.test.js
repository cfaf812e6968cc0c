'use strict';
// JavaScript on: the booking result and each error (409, 402, 422) show inside the form,
// without navigation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, bookViaHttp, availability } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');

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
 * Opens `/`, fills the VIP form, submits it with htmx and returns the booking response and
 * the text of the form afterwards. `prepare` runs in the page before the click.
 */
async function submitVip(baseUrl, { quantity, name = 'Ada Lovelace', email = 'ada@example.com', prepare } = {}) {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(`${baseUrl}/`);
    await waitForHtmx(page);
    const before = page.url();
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.fill('#quantity-vip', String(quantity));
    await page.fill('#name-vip', name);
    await page.fill('#email-vip', email);
    if (prepare) await page.evaluate(prepare);
    const posted = page.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST');
    await page.click('#book-vip');
    const response = await posted;
    const isHtmx = (await response.request().allHeaders())['hx-request'] === 'true';
    const form = page.locator('#form-vip');
    await form.locator('.notice').first().waitFor({ state: 'visible', timeout: 10_000 });
    const alert = form.locator('[role="alert"]');
    const result = {
      status: response.status(),
      isHtmx,
      sameUrl: page.url() === before,
      sameDocument: await page.evaluate(() => window.__sameDocument === true),
      alertCount: await alert.count(),
      alertVisible: (await alert.count()) > 0 && await alert.first().isVisible(),
      alertText: (await alert.count()) > 0 ? (await alert.first().textContent()).replace(/\s+/g, ' ').trim() : '',
      formText: (await form.textContent()).replace(/\s+/g, ' ').trim(),
      emailInvalid: await page.getAttribute('#email-vip', 'aria-invalid'),
      quantityValue: await page.inputValue('#quantity-vip'),
      nameValue: await page.inputValue('#name-vip'),
      offHost: context.offHostRequests,
      consoleErrors: context.consoleErrors,
    };
    return result;
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
  assert.deepEqual(r.offHost, [], 'only 127.0.0.1 was contacted');
  assert.deepEqual(r.consoleErrors, [], 'no console errors');
}

test('success: the result shows in place with reference and total', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    const before = page.url();
    await page.fill('#quantity-vip', '1');
    await page.fill('#name-vip', 'Alan Turing');
    await page.fill('#email-vip', 'alan@example.com');
    await page.click('#book-vip');
    const ok = page.locator('#form-vip .notice.success');
    await ok.waitFor({ state: 'visible', timeout: 10_000 });
    const text = (await ok.textContent()).replace(/\s+/g, ' ');
    assert.match(text, /TK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}/);
    assert.match(text, /\$100\.00/);
    assert.equal(page.url(), before);
    // The link in the result leads to the confirmation.
    await page.click('#form-vip .notice.success a');
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
    // Bypass the browser's own type=email check so the server's validation answers.
    prepare: () => { document.getElementById('form-vip').noValidate = true; },
  });
  assertInPlace(r, 422);
  assert.match(r.alertText, /email/i, `the message names the email field: ${r.alertText}`);
  assert.equal(r.emailInvalid, 'true', 'the email input is marked aria-invalid');
  assert.equal(r.nameValue, 'Ada Lovelace', 'what the user typed is kept');
  assert.deepEqual(await availability(server.url), before, 'no seats taken');
});

test('409: asking for more seats than are left says how many are left, in place', { timeout: 30_000 }, async () => {
  // Leave exactly 3 VIP seats (the previous tests took some), then ask for 5.
  let left = (await availability(server.url)).vip;
  while (left > 3) {
    const q = Math.min(10, left - 3);
    const b = await bookViaHttp(server.url, { quantity: q });
    assert.equal(b.status, 303, `setup booking of ${q}: ${b.body.slice(0, 300)}`);
    left -= q;
  }
  assert.equal((await availability(server.url)).vip, 3);
  const r = await submitVip(server.url, { quantity: 5 });
  assertInPlace(r, 409);
  assert.match(r.alertText, /\b3\b/, `the message says how many are left: ${r.alertText}`);
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
