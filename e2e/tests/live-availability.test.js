'use strict';
// JavaScript on: a booking made in window A shows on the cards of window B within one poll
// interval, without any action in B, and without touching B's chosen tier, typed text or focus.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, bookViaHttp, POLL_SECONDS } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');
const { fillBooking, text } = require('../lib/booking');

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'live' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('booking in window A updates the VIP card in window B without touching B', { timeout: 60_000 }, async () => {
  const contextB = await newContext(browser);
  const contextA = await newContext(browser);
  try {
    // Window B: opened first, its user chooses Front Row and starts typing.
    const pageB = await contextB.newPage();
    await pageB.goto(`${server.url}/`);
    await waitForHtmx(pageB);
    assert.equal(await text(pageB, '#tier-vip .tier-seats'), '100 left');
    assert.equal(await pageB.isVisible('#availability'), true, 'the "updates live" note shows when polling runs');
    await fillBooking(pageB, { tier: 'front-row', quantity: 3, name: 'Grace Hopper typing', email: 'grace@exa' });
    await pageB.focus('#email');
    assert.equal(await text(pageB, '#book'), 'Book 3 × Front Row · $150.00');
    const urlB = pageB.url();

    // Window A: books 2 VIP through the form, in place.
    const pageA = await contextA.newPage();
    await pageA.goto(`${server.url}/`);
    await waitForHtmx(pageA);
    const urlA = pageA.url();
    await pageA.evaluate(() => { window.__sameDocument = true; });
    await fillBooking(pageA, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
    const posted = pageA.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST');
    await pageA.click('#book');
    const response = await posted;
    assert.equal(response.status(), 200, 'htmx booking answers 200 with the result fragment');
    const bookedAt = Date.now();

    const result = pageA.locator('#booking-form .notice.success');
    await result.waitFor({ state: 'visible', timeout: 10_000 });
    const resultText = (await result.textContent()).replace(/\s+/g, ' ');
    assert.match(resultText, /\bTK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}\b/, `reference in: ${resultText}`);
    assert.match(resultText, /\$200\.00/, `total in: ${resultText}`);
    assert.equal(pageA.url(), urlA, 'window A did not navigate');
    assert.equal(await pageA.evaluate(() => window.__sameDocument), true, 'window A kept its document');
    assert.equal(await text(pageA, '#tier-vip .tier-seats'), '98 left', 'the answer brings fresh cards');

    // Window B: no action; the poll must bring "98 left" within POLL_SECONDS + 1 s.
    const budget = (POLL_SECONDS + 1) * 1000 - (Date.now() - bookedAt);
    await pageB.waitForFunction(
      () => document.querySelector('#tier-vip .tier-seats')?.textContent.trim() === '98 left',
      null,
      { timeout: Math.max(budget, 1) },
    );
    console.log(`window B showed "98 left" ${Date.now() - bookedAt} ms after the booking (limit ${(POLL_SECONDS + 1) * 1000} ms)`);

    assert.equal(await pageB.isChecked('#pick-front-row'), true, 'the chosen tier survives the poll');
    assert.equal(await pageB.inputValue('#quantity'), '3', 'the quantity survives the poll');
    assert.equal(await pageB.inputValue('#name'), 'Grace Hopper typing', 'typed name survives the poll');
    assert.equal(await pageB.inputValue('#email'), 'grace@exa', 'typed email survives the poll');
    assert.equal(await pageB.evaluate(() => document.activeElement?.id), 'email', 'focus stays in the field');
    assert.equal(await text(pageB, '#book'), 'Book 3 × Front Row · $150.00', 'the button still names B\'s order');
    assert.equal(pageB.url(), urlB, 'window B did not navigate');

    for (const ctx of [contextA, contextB]) {
      assert.deepEqual(ctx.offHostRequests, [], 'only 127.0.0.1 was contacted');
      assert.deepEqual(ctx.consoleErrors, [], 'no console errors (CSP violations included)');
    }
  } finally {
    await contextA.close();
    await contextB.close();
  }
});

test('a tier that sells out elsewhere gets its card disabled in place, typed text kept', { timeout: 60_000 }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    await fillBooking(page, { tier: 'front-row', quantity: 2, name: 'Half-typed name' });
    assert.equal(await page.isDisabled('#pick-front-row'), false);

    // Someone else buys every Front Row seat (20 bookings of 10).
    for (let i = 0; i < 20; i += 1) {
      const { status } = await bookViaHttp(server.url, { tier: 'front-row', quantity: 10 });
      assert.equal(status, 303, `setup booking ${i}`);
    }
    const soldAt = Date.now();
    await page.waitForFunction(
      () => document.querySelector('#pick-front-row')?.disabled === true,
      null,
      { timeout: (POLL_SECONDS + 1) * 1000 },
    );
    console.log(`the Front Row card was disabled ${Date.now() - soldAt} ms after the sell-out`);
    assert.equal(await text(page, '#tier-front-row .tier-seats'), 'Sold out');
    assert.equal(await page.isChecked('#pick-front-row'), false, 'a sold-out tier is no longer chosen');
    // The script follows the swap: the button no longer names a sold-out order.
    await page.locator('#book', { hasText: /^Book tickets$/ }).waitFor({ timeout: 2_000 });
    assert.equal(await page.inputValue('#name'), 'Half-typed name', 'the form itself was not replaced');
    assert.equal(await page.inputValue('#quantity'), '2');
    assert.equal(await page.isDisabled('#pick-vip'), false, 'other tiers untouched');
    // The fan picks another tier and carries on.
    await page.click('.tier-card.tier-general');
    assert.equal(await page.isChecked('#pick-general'), true, 'the whole card chooses its tier');
    assert.equal(await text(page, '#book'), 'Book 2 × General Admission · $20.00');
    assert.deepEqual(context.consoleErrors, [], 'no console errors');
  } finally {
    await context.close();
  }
});
