'use strict';
// The admin area may not exist yet in a given build: callers skip its checks when GET /admin is 404.

const { ADMIN_PASSWORD } = require('./server');

async function adminExists(url) {
  const res = await fetch(`${url}/admin`, { redirect: 'manual' });
  await res.arrayBuffer();
  return res.status !== 404;
}

/** Signs in through the form at /admin/login and waits for the dashboard at /admin. */
async function signIn(page, url) {
  await page.goto(`${url}/admin/login`);
  const password = page.locator('input[name="password"]');
  await password.fill(ADMIN_PASSWORD);
  const form = page.locator('form', { has: password });
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/', { timeout: 10_000 }),
    form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click(),
  ]);
}

module.exports = { adminExists, signIn };
