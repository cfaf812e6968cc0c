'use strict';
// The box office in a real browser: sign in, set VIP to one seat through the confirmation
// step, two windows race for it (one books, the other is told "Only 0 left" in place), the audit
// log shows the change, a reset restores the tier, and signing out ends the session.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, availability } = require('../lib/server');
const { launchBrowser, newContext, waitForHtmx } = require('../lib/browser');
const { signIn } = require('../lib/admin');
const { fillBooking } = require('../lib/booking');

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'admin' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** The cells of a table row, joined by single spaces. */
async function row(page, selector) {
  const cells = await page.locator(`${selector} th, ${selector} td`).allTextContents();
  return cells.map((c) => c.trim()).join(' ');
}

async function submitAndConfirm(page, form) {
  await Promise.all([page.waitForURL((u) => u.pathname !== '/admin'), form.locator('button[type="submit"]').click()]);
  assert.match(await page.textContent('h1'), /Please confirm/);
  const question = (await page.textContent('main p')).replace(/\s+/g, ' ');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/admin'),
    page.click('button[type="submit"].danger'),
  ]);
  return question;
}

test('set seats, race for the last one, see the audit, reset, sign out', { timeout: 90_000 }, async () => {
  const adminContext = await newContext(browser);
  const buyerA = await newContext(browser);
  const buyerB = await newContext(browser);
  try {
    const admin = await adminContext.newPage();
    await admin.goto(`${server.url}/admin`);
    assert.equal(new URL(admin.url()).pathname, '/admin/login', 'signed-out visitors are sent to sign in');
    await signIn(admin, server.url);

    const setForm = admin.locator('form[action="/admin/tiers/available"]', { has: admin.locator('input[value="vip"]') });
    await setForm.locator('input[name="available"]').fill('1');
    const question = await submitAndConfirm(admin, setForm);
    assert.match(question, /from 100 to 1/);
    assert.equal((await availability(server.url)).vip, 1);
    const vipRow = await row(admin, '#row-vip');
    assert.match(vipRow, /VIP 100 0 0 99 1 \$0\.00/, `capacity, confirmed, held, withheld, available, revenue: ${vipRow}`);
    const audit = await row(admin, '#audit tbody tr:first-child');
    assert.match(audit, /set available seats VIP available=100 withheld=0 available=1 withheld=99/, audit);

    // Two buyers, one seat, both press "Book" at once.
    const pages = [];
    for (const [ctx, name] of [[buyerA, 'Ada'], [buyerB, 'Grace']]) {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await waitForHtmx(page);
      await fillBooking(page, { tier: 'vip', quantity: 1, name, email: `${name.toLowerCase()}@example.com` });
      pages.push(page);
    }
    await Promise.all(pages.map((p) => p.click('#book')));
    const outcomes = await Promise.all(pages.map(async (p) => {
      const notice = p.locator('#booking-form .notice');
      await notice.first().waitFor({ timeout: 10_000 });
      return (await notice.first().textContent()).replace(/\s+/g, ' ');
    }));
    const won = outcomes.filter((t) => /Booked!/.test(t));
    const lost = outcomes.filter((t) => /Only 0 left/.test(t));
    assert.equal(won.length, 1, `one winner: ${outcomes.join(' | ')}`);
    assert.equal(lost.length, 1, `one told "Only 0 left": ${outcomes.join(' | ')}`);

    await admin.reload();
    assert.match(await row(admin, '#row-vip'), /VIP 100 1 0 99 0 \$100\.00/);

    const resetForm = admin.locator('form[action="/admin/reset"]', { has: admin.locator('input[value="vip"]') });
    const resetQuestion = await submitAndConfirm(admin, resetForm);
    assert.match(resetQuestion, /Reset VIP\? 1 held or confirmed seat\(s\) will be freed: 1 paid booking\(s\) will be refunded \(\$100\.00\)/);
    assert.equal((await availability(server.url)).vip, 100);
    assert.match(await row(admin, '#audit tbody tr:first-child'), /reset tier VIP/);

    await Promise.all([admin.waitForURL((u) => u.pathname === '/admin/login'), admin.getByRole('button', { name: 'Sign out', exact: true }).click()]);
    await admin.goto(`${server.url}/admin`);
    assert.equal(new URL(admin.url()).pathname, '/admin/login', 'signed out');

    for (const ctx of [adminContext, buyerA, buyerB]) {
      assert.deepEqual(ctx.consoleErrors, [], 'no console errors');
    }
  } finally {
    await adminContext.close();
    await buyerA.close();
    await buyerB.close();
  }
});
