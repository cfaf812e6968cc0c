'use strict';
// Signing in to the admin console from a test.

const { ADMIN_PASSWORD } = require('./server');

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

module.exports = { signIn };
