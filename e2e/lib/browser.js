'use strict';
// Debian's chromium driven by playwright-core (no browser download of its own).

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', 'target', 'screenshots');

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (scripts/e2e does this)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
}

/**
 * A browser context that may only talk to 127.0.0.1: any other request is aborted and recorded
 * in context.offHostRequests (tests assert it stays empty, which also proves no CDN is used).
 * Console errors and uncaught page errors are recorded in context.consoleErrors.
 */
async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  context.offHostRequests = [];
  context.consoleErrors = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') {
      return route.continue();
    }
    context.offHostRequests.push(u.href);
    return route.abort('blockedbyclient');
  });
  context.on('page', (page) => watchPage(context, page));
  return context;
}

function watchPage(context, page) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Chrome logs every 4xx/5xx fetch as "Failed to load resource"; the booking errors
    // (402/409/422) and the error pages are expected answers, not faults.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    context.consoleErrors.push(`${page.url()}: ${text}`);
  });
  page.on('pageerror', (err) => context.consoleErrors.push(`${page.url()}: uncaught ${err.message}`));
}

/** Waits until htmx has loaded and processed the page (JavaScript-on contexts only). */
async function waitForHtmx(page) {
  await page.waitForFunction(() => typeof window.htmx !== 'undefined' && document.readyState === 'complete');
}

module.exports = { launchBrowser, newContext, waitForHtmx, SCREENSHOT_DIR, CHROMIUM };
