'use strict';
// Screenshots for people to look at, written to target/screenshots/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeConfirmedBooking } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx, SCREENSHOT_DIR } = require('../lib/browser');
const { signIn } = require('../lib/admin');

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
  await page.screenshot({ path: target, fullPage: true });
  const size = fs.statSync(target).size;
  assert.ok(size > 5_000, `${file} is a real picture (${size} bytes)`);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${size} bytes)`);
}

for (const width of [1280, 390]) {
  test(`main page at ${width}px, full page`, { timeout: 30_000 }, async () => {
    const context = await newContext(browser, {
      viewport: { width, height: width === 390 ? 844 : 900 },
      deviceScaleFactor: 1,
      isMobile: width === 390,
      hasTouch: width === 390,
    });
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/`);
      await waitForHtmx(page);
      // Reads well on a phone: nothing wider than the viewport.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling at ${width}px (page is ${overflow}px too wide)`);
      await shoot(page, `main-${width}.png`);
    } finally {
      await context.close();
    }
  });
}

test('confirmation page', { timeout: 30_000 }, async () => {
  const bookingPath = await makeConfirmedBooking(server.url);
  for (const width of [1280, 390]) {
    const context = await newContext(browser, { viewport: { width, height: 900 }, isMobile: width === 390 });
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}${bookingPath}`);
      assert.match(await page.textContent('body'), /Confirmed/);
      await shoot(page, width === 1280 ? 'confirmation.png' : `confirmation-${width}.png`);
    } finally {
      await context.close();
    }
  }
});

test('admin page', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await makeConfirmedBooking(server.url);
    await signIn(page, server.url);
    await shoot(page, 'admin.png');
  } finally {
    await context.close();
  }
});
