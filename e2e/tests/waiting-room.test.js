'use strict';
// The waiting room (SPEC §13) in a real browser: fans who come before the opening wait on
// /queue with a countdown (JavaScript on, at 1280 and 390 px, and off); at the opening they
// are let in and book; a fan in a slow line sees their place, the people ahead and the wait;
// sold-out tiers show in line. axe-core and the Nu Html Checker on every queue page, and
// screenshots in target/screenshots/ (queue-*.png).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, ROOT } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx, SCREENSHOT_DIR } = require('../lib/browser');
const { signIn } = require('../lib/admin');
const { fillBooking, text } = require('../lib/booking');
const { nuErrors } = require('../lib/nu');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const HTML_DIR = path.join(ROOT, 'target', 'e2e-html', 'queue');
const REFERENCE_PATH = /\/bookings\/TK-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}$/;
const OPENS_IN_MS = 20_000;

let soon; // opens OPENS_IN_MS after start, lets fans in fast
let slow; // open for a minute, one fan a minute
let browser;
let opensAt;
const fans = {}; // the three early fans: { context, page }
const saved = [];

before(async () => {
  opensAt = new Date(Date.now() + OPENS_IN_MS);
  const past = new Date(Date.now() - 60_000).toISOString();
  [soon, slow] = await Promise.all([
    startServer({ name: 'queue-soon', env: { SALE_OPENS_AT: opensAt.toISOString(), QUEUE_ADMIT_PER_MIN: '60000', AVAILABILITY_MAX_AGE_MS: '100' } }),
    startServer({ name: 'queue-slow', env: { SALE_OPENS_AT: past, QUEUE_ADMIT_PER_MIN: '1', AVAILABILITY_MAX_AGE_MS: '100' } }),
  ]);
  browser = await launchBrowser();
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  fs.rmSync(HTML_DIR, { recursive: true, force: true });
  fs.mkdirSync(HTML_DIR, { recursive: true });
});

after(async () => {
  for (const fan of Object.values(fans)) await fan.context.close().catch(() => {});
  if (browser) await browser.close();
  if (soon) await soon.stop();
  if (slow) await slow.stop();
});

function viewport(width) {
  return { viewport: { width, height: width === 390 ? 844 : 900 }, deviceScaleFactor: 1, isMobile: width === 390, hasTouch: width === 390 };
}

async function shoot(page, file) {
  const target = path.join(SCREENSHOT_DIR, file);
  await page.screenshot({ path: target, fullPage: true, caret: 'initial', animations: 'disabled' });
  const size = fs.statSync(target).size;
  assert.ok(size > 5_000, `${file} is a real picture (${size} bytes)`);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${size} bytes)`);
}

async function noSideways(page, width) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at ${width}px (${overflow}px too wide)`);
}

async function axe(page, label) {
  await page.addScriptTag({ content: AXE_SOURCE });
  // eslint-disable-next-line no-undef
  const violations = await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })));
  for (const v of violations) console.log(`axe ${label}: [${v.impact}] ${v.id} at ${v.targets.join(', ')}`);
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(blocking, [], `${label}: serious/critical accessibility violations`);
}

function save(name, html) {
  const file = path.join(HTML_DIR, `${name}.html`);
  fs.writeFileSync(file, html);
  saved.push(file);
}

/** A fan with a cookie jar, over fetch: GET /api/queue. */
function apiFan(url) {
  const jar = new Map();
  return async function poll() {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${url}/api/queue`, { headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    assert.equal(res.status, 200);
    return res.json();
  };
}

test('before the opening: fans wait on /queue with a countdown (1280 px, 390 px, no JavaScript)', { timeout: 60_000 }, async () => {
  for (const [name, options] of [['wide', viewport(1280)], ['phone', viewport(390)], ['nojs', { ...viewport(1280), javaScriptEnabled: false }]]) {
    const context = await newContext(browser, options);
    const page = await context.newPage();
    fans[name] = { context, page };
    const response = await page.goto(`${soon.url}/`);
    assert.equal(new URL(page.url()).pathname, '/queue', `${name}: / sends a fan to the queue before the opening`);
    assert.equal(response.status(), 200);
    assert.match(await text(page, '#queue-heading'), /You're in the waiting room/);
    assert.match(await text(page, '#queue-status'), /Sales open .* Opens in (\d+ min )?\d+ s/);
  }
  assert.ok(Date.now() < opensAt.getTime(), 'the fans came before the opening');
  const { page } = fans.wide;
  await waitForHtmx(page);
  const first = Number(await page.getAttribute('#countdown', 'data-countdown-secs'));
  const shown = async () => Number((await text(page, '#countdown')).replace(/\D+/g, ''));
  await page.waitForFunction((n) => Number(document.getElementById('countdown').textContent.replace(/\D+/g, '')) < n, first, { timeout: 5_000 });
  assert.ok((await shown()) < first, 'JavaScript counts down between polls');
  assert.equal(await fans.nojs.page.evaluate(() => typeof window.htmx), 'undefined', 'JavaScript really is off');
  for (const [name, width] of [['wide', 1280], ['phone', 390]]) {
    await noSideways(fans[name].page, width);
    await shoot(fans[name].page, `queue-before-${width}.png`);
  }
  save('queue-before', await (await fetch(`${soon.url}/queue`)).text());
});

test('at the opening the fan is let in (htmx) and books in place', { timeout: 60_000 }, async () => {
  const { page } = fans.wide;
  await page.waitForURL((u) => u.pathname === '/', { timeout: OPENS_IN_MS + 20_000 });
  await waitForHtmx(page);
  assert.match(await text(page, '.turn-notice'), /your turn\. Book by \d\d:\d\d/);
  await shoot(page, 'queue-admitted-1280.png');
  save('index-admitted', await page.content());
  await fillBooking(page, { tier: 'vip', quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com' });
  await page.click('#book');
  await page.locator('#booking-form .notice.success').waitFor({ timeout: 10_000 });
  assert.deepEqual(fans.wide.context.consoleErrors, []);
  await fans.phone.page.waitForURL((u) => u.pathname === '/', { timeout: 20_000 });
  await noSideways(fans.phone.page, 390);
  await shoot(fans.phone.page, 'queue-admitted-390.png');
});

test('JavaScript off: the page refreshes itself, lets the fan in, and the booking ends on the confirmation', { timeout: 60_000 }, async () => {
  const { page, context } = fans.nojs;
  await page.waitForURL((u) => u.pathname === '/', { timeout: 30_000 });
  await fillBooking(page, { tier: 'front-row', quantity: 1, name: 'Grace Hopper', email: 'grace@example.com' });
  await Promise.all([page.waitForNavigation({ url: REFERENCE_PATH }), page.click('#book')]);
  assert.match(await text(page, 'body'), /Confirmed/);
  assert.deepEqual(context.offHostRequests, []);
});

test('in a slow line: the place, the people ahead, the wait; sold-out tiers; then sold out', { timeout: 90_000 }, async () => {
  for (let i = 0; i < 25; i += 1) await apiFan(slow.url)();
  for (const width of [1280, 390]) {
    const context = await newContext(browser, { ...viewport(width), bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${slow.url}/`);
    assert.equal(new URL(page.url()).pathname, '/queue');
    await waitForHtmx(page);
    const figures = await text(page, '.queue-figures');
    assert.match(figures, /Your place (26|27) Ahead of you 2\d Estimated wait about 2\d minutes/);
    const progress = Number(await page.getAttribute('#queue-progress', 'value'));
    assert.ok(progress >= 0 && progress <= 10, `hardly anyone ahead let in yet: ${progress}%`);
    await noSideways(page, width);
    await shoot(page, `queue-waiting-${width}.png`);
    if (width === 1280) {
      save('queue-waiting', await page.content());
      await axe(page, '/queue waiting');
    }
    await context.close();
  }

  // The box office sells VIP out, then everything.
  const context = await newContext(browser, { ...viewport(1280), bypassCSP: true });
  const page = await context.newPage();
  await signIn(page, slow.url);
  const cells = await page.$$eval('#queue-figures td', (tds) => tds.map((td) => td.textContent.trim()));
  assert.deepEqual(cells.slice(2), [`${cells[1]} (1,000)`, '1', '10 min'], `waiting, admitted, shopping (max), rate, turn: ${cells}`);
  assert.ok(Number(cells[0]) >= 24, `the line waits: ${cells}`);
  save('admin-queue', await page.content());
  await shoot(page, 'queue-admin-1280.png');
  await axe(page, '/admin with the waiting room');
  const csrf = await page.getAttribute('input[name="csrf_token"]', 'value');
  const setAvailable = (tier) => page.request.post(`${slow.url}/admin/tiers/available`, {
    form: { csrf_token: csrf, tier, available: '0', confirm: 'yes' }, maxRedirects: 0,
  });
  assert.equal((await setAvailable('vip')).status(), 303);
  const fan = await newContext(browser, { ...viewport(1280), bypassCSP: true });
  const line = await fan.newPage();
  await line.goto(`${slow.url}/queue`);
  await waitForHtmx(line);
  await line.locator('.queue-sold-out li', { hasText: 'VIP' }).waitFor({ timeout: 15_000 });
  await shoot(line, 'queue-vip-sold-out-1280.png');
  for (const tier of ['front-row', 'general']) assert.equal((await setAvailable(tier)).status(), 303);
  await line.locator('#queue-heading', { hasText: 'Sold out' }).waitFor({ timeout: 15_000 });
  await shoot(line, 'queue-sold-out-1280.png');
  await line.reload();
  save('queue-sold-out', await line.content());
  await axe(line, '/queue sold out');
  await fan.close();
  await context.close();
});

test('every queue page passes the Nu Html Checker', { timeout: 120_000 }, () => {
  assert.ok(saved.length >= 5, `pages saved: ${saved.length}`);
  const errors = nuErrors(saved, HTML_DIR);
  for (const e of errors) console.log(`${e.message}\n  ${e.where}`);
  assert.equal(errors.length, 0, 'the Nu Html Checker found errors');
  console.log(`Nu Html Checker: ${saved.length} pages, no errors`);
});
