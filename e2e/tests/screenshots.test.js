'use strict';
// Screenshots for people to look at, written to target/screenshots/: the concert page at
// 1280 px and 390 px before a booking (a tier chosen, the total on the button) and after it
// (the result in place), the confirmation page and the admin dashboard.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeConfirmedBooking } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx, SCREENSHOT_DIR } = require('../lib/browser');
const { signIn } = require('../lib/admin');
const { fillBooking } = require('../lib/booking');

let server;
let browser;

before(async () => {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  server = await startServer({ name: 'screenshots' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function shoot(page, file) {
  const target = path.join(SCREENSHOT_DIR, file);
  // caret: 'initial' keeps playwright from writing a style attribute into the inputs (which
  // htmx would then carry into the next swap, against the page's CSP).
  await page.screenshot({ path: target, fullPage: true, caret: 'initial', animations: 'disabled' });
  const size = fs.statSync(target).size;
  assert.ok(size > 5_000, `${file} is a real picture (${size} bytes)`);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${size} bytes)`);
}

function phone(width) {
  return {
    viewport: { width, height: width === 390 ? 844 : 900 },
    deviceScaleFactor: 1,
    isMobile: width === 390,
    hasTouch: width === 390,
  };
}

async function assertNoSideways(page, width) {
  // Reads well on a phone: nothing wider than the viewport.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at ${width}px (page is ${overflow}px too wide)`);
}

for (const width of [1280, 390]) {
  test(`main page at ${width}px, before and after a booking`, { timeout: 30_000 }, async () => {
    const context = await newContext(browser, phone(width));
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/`);
      await waitForHtmx(page);
      await assertNoSideways(page, width);
      await shoot(page, `main-${width}.png`);
      await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
      await page.locator('#book', { hasText: 'Book 2 × VIP · $200.00' }).waitFor();
      await shoot(page, `main-${width}-chosen.png`);
      await page.click('#book');
      await page.locator('#booking-form .notice.success').waitFor({ timeout: 10_000 });
      await assertNoSideways(page, width);
      await shoot(page, `main-${width}-booked.png`);
      assert.deepEqual(context.consoleErrors, []);
    } finally {
      await context.close();
    }
  });
}

test('confirmation page', { timeout: 30_000 }, async () => {
  const bookingPath = await makeConfirmedBooking(server.url);
  for (const width of [1280, 390]) {
    const context = await newContext(browser, phone(width));
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}${bookingPath}`);
      assert.match(await page.textContent('body'), /Confirmed/);
      await assertNoSideways(page, width);
      await shoot(page, width === 1280 ? 'confirmation.png' : `confirmation-${width}.png`);
    } finally {
      await context.close();
    }
  }
});

test('admin page', { timeout: 30_000 }, async () => {
  for (const width of [1280, 390]) {
    const context = await newContext(browser, phone(width));
    const page = await context.newPage();
    try {
      await makeConfirmedBooking(server.url);
      await signIn(page, server.url);
      await assertNoSideways(page, width);
      await shoot(page, width === 1280 ? 'admin.png' : `admin-${width}.png`);
    } finally {
      await context.close();
    }
  }
});
