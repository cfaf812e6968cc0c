'use strict';
// axe-core on every page: no violation of impact "serious" or "critical". All violations are printed.
// The pages' CSP is script-src 'self', so axe is injected in a context with bypassCSP.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startServer, makeConfirmedBooking, availability, bookViaHttp } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');
const { signIn } = require('../lib/admin');
const { fillBooking } = require('../lib/booking');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BLOCKING = new Set(['serious', 'critical']);

let server;
let browser;
let bookingPath;

before(async () => {
  server = await startServer({ name: 'axe' });
  browser = await launchBrowser();
  bookingPath = await makeConfirmedBooking(server.url);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function runAxe(page, label) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary })),
    }));
  });
  for (const v of results) {
    console.log(`axe ${label}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
    for (const n of v.nodes.slice(0, 3)) {
      console.log(`    at ${n.target}: ${n.html.replace(/\s+/g, ' ')}\n      ${(n.summary || '').replace(/\s*\n\s*/g, ' / ')}`);
    }
    if (v.nodes.length > 3) console.log(`    … and ${v.nodes.length - 3} more elements`);
  }
  if (results.length === 0) console.log(`axe ${label}: no violations`);
  const blocking = results.filter((v) => BLOCKING.has(v.impact));
  assert.deepEqual(
    blocking.map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`),
    [],
    `${label}: serious/critical accessibility violations`,
  );
}

async function checkPage(label, { path, javaScriptEnabled = true, viewport, prepare }) {
  const context = await newContext(browser, { bypassCSP: true, javaScriptEnabled, ...(viewport ? { viewport } : {}) });
  const page = await context.newPage();
  try {
    if (prepare) {
      await prepare(page);
    } else {
      await page.goto(`${server.url}${path}`);
    }
    if (javaScriptEnabled && (await page.locator('script[src*="htmx"]').count()) > 0) await waitForHtmx(page);
    await runAxe(page, label);
  } finally {
    await context.close();
  }
}

test('axe: / (desktop)', { timeout: 60_000 }, () => checkPage('/', { path: '/' }));
test('axe: / (phone, 390px)', { timeout: 60_000 }, () => checkPage('/ at 390px', { path: '/', viewport: { width: 390, height: 844 } }));
test('axe: /basic', { timeout: 60_000 }, () => checkPage('/basic', { path: '/basic' }));
test('axe: confirmation page', { timeout: 60_000 }, () => checkPage('confirmation', { path: bookingPath }));
test('axe: error page (unknown booking, 404)', { timeout: 60_000 }, () => checkPage('error page', { path: '/bookings/TK-2222-2222-22' }));

test('axe: / with a booking error shown in place (422)', { timeout: 60_000 }, () => checkPage('/ with 422 in place', {
  prepare: async (page) => {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'a@b' });
    await page.evaluate(() => { document.getElementById('booking-form').noValidate = true; });
    await page.click('#book');
    await page.locator('#booking-form #form-error').waitFor({ timeout: 10_000 });
  },
}));

test('axe: / with a quantity above the seats left refused in place', { timeout: 60_000 }, () => checkPage('/ with the seats-left check', {
  prepare: async (page) => {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    await page.evaluate(() => { document.querySelector('#tier-vip [data-available]').setAttribute('data-available', '1'); });
    await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
    await page.locator('#quantity-check').waitFor({ state: 'visible', timeout: 10_000 });
  },
}));

test('axe: / with a booking result shown in place', { timeout: 60_000 }, () => checkPage('/ with result in place', {
  prepare: async (page) => {
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    await fillBooking(page, { tier: 'general', quantity: 1, name: 'Ada Lovelace', email: 'ada@example.com' });
    await page.click('#book');
    await page.locator('#booking-form .notice.success').waitFor({ timeout: 10_000 });
  },
}));

test('axe: / with a sold-out tier', { timeout: 60_000 }, () => checkPage('/ with VIP sold out', {
  prepare: async (page) => {
    let left = (await availability(server.url)).vip;
    while (left > 0) {
      const q = Math.min(10, left);
      assert.equal((await bookViaHttp(server.url, { quantity: q })).status, 303);
      left -= q;
    }
    await page.goto(`${server.url}/`);
    await waitForHtmx(page);
    assert.equal(await page.isDisabled('#pick-vip'), true);
  },
}));

test('axe: admin sign-in and dashboard', { timeout: 60_000 }, async () => {
  await checkPage('/admin/login', { path: '/admin/login' });
  await checkPage('/admin', {
    prepare: async (page) => { await signIn(page, server.url); },
  });
});
