'use strict';
// Starts the real server binary on a free loopback port with a fresh SQLite file, and stops it.
// Every test file starts its own server(s), so tests never share seats.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const ROOT = path.resolve(__dirname, '..', '..');
const BINARY = process.env.TK_BINARY || path.join(ROOT, 'target', 'debug', 'techkraft-tickets');
const ADMIN_PASSWORD = 'correct horse battery staple';
const POLL_SECONDS = 5;

const running = new Set();

// Safety net: never leave a server behind, even if a test file crashes.
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Starts one server. Options: env (extra variables, e.g. PAYMENT_SUCCESS_RATE), name (for logs).
 * Resolves to { url, port, dir, logs(), stop() }.
 */
async function startServer({ env = {}, name = 'server' } = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`server binary not found at ${BINARY}; run: cargo build --bin techkraft-tickets`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-e2e-'));
  const fullEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || dir,
    BIND_ADDR: '127.0.0.1:0',
    DATABASE_URL: `sqlite://${path.join(dir, 'db.sqlite3')}`,
    RATE_LIMIT_BOOKINGS_PER_MIN: '0',
    RATE_LIMIT_SIGNIN_PER_MIN: '0',
    ADMIN_PASSWORD,
    PAYMENT_DELAY_MS: '20',
    PAYMENT_SUCCESS_RATE: '1',
    POLL_SECONDS: String(POLL_SECONDS),
    RUST_LOG: 'info',
    // Stop at once on SIGTERM: no load balancer to drain for (stopServer waits 5 s at most).
    SHUTDOWN_DRAIN_SECS: '0',
    ...env,
  };
  // The server reads a .env file from its working directory: run it in the temp dir so a
  // developer's .env never leaks into the tests.
  const child = spawn(BINARY, [], { cwd: dir, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name}: no "listening on" line within 20 s; log:\n${log}`));
    }, 20_000);
    const onData = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        child.stdout.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited early (code ${code}, signal ${signal}); log:\n${log}`));
    });
  });

  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { url, port, dir, logs: () => log, stop };
}

/** A fresh, well-formed idempotency key (24 letters and digits, like the forms'). */
function idempotencyKey() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(24);
  let key = '';
  for (const b of bytes) key += alphabet[b % alphabet.length];
  return key;
}

/** Books through the plain form POST (no JavaScript). Resolves to { status, location, body }. */
async function bookViaHttp(url, { tier = 'vip', quantity = 1, name = 'Setup Buyer', email = 'setup@example.com', key = idempotencyKey() } = {}) {
  const res = await fetch(`${url}/bookings`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ tier, quantity: String(quantity), name, email, idempotency_key: key }).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

/** Seats left per tier, read from the /availability fragment: { vip: 100, 'front-row': 200, ... }. */
async function availability(url) {
  const res = await fetch(`${url}/availability`);
  if (res.status !== 200) throw new Error(`GET /availability answered ${res.status}`);
  const html = await res.text();
  const seats = {};
  const re = /id="tier-([a-z-]+)"[\s\S]*?data-available="(\d+)"/g;
  let m;
  while ((m = re.exec(html)) !== null) seats[m[1]] = Number(m[2]);
  if (!('vip' in seats)) throw new Error(`cannot read availability from:\n${html}`);
  return seats;
}

/** Makes one confirmed VIP booking over HTTP and returns its confirmation path. */
async function makeConfirmedBooking(url, opts = {}) {
  const r = await bookViaHttp(url, { quantity: 2, name: 'Ada Lovelace', email: 'ada@example.com', ...opts });
  if (r.status !== 303 || !/^\/bookings\/TK-/.test(r.location || '')) {
    throw new Error(`setup booking failed: ${r.status} ${r.location}\n${r.body.slice(0, 500)}`);
  }
  return r.location;
}

module.exports = {
  ADMIN_PASSWORD,
  POLL_SECONDS,
  ROOT,
  startServer,
  idempotencyKey,
  bookViaHttp,
  availability,
  makeConfirmedBooking,
};
