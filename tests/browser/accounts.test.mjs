// Browser tests for the accounts issue (#4), on a phone-sized window in headless Chromium:
// password recovery by security e-mail at ejt (seed 001: the confirm dialog, the mail in the
// demo outbox, the single-use link), and the first-login password change followed by the
// account security page (sessions, security e-mail).
//
// Run from the repo root:  node --test tests/browser/
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/accounts-{school}-{WxH}-{step}.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = path.resolve(REPO, process.env.CAMPUSPAY_BIN || 'target/debug/campuspay');
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'target', 'screenshots');

const STUDENT = '20230001';
const LIHUA = '20230002'; // has a security e-mail at ejt in the demo seed
const NEW_PASSWORD = 'Campus#Pay2026!';



const PHONE = {
  name: '390x844',
  options: {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  },
};

const servers = new Set();
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Start `campuspay serve --demo` on a free port with a fresh database in a new temp dir. */
async function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campuspay-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    BIN,
    [
      'serve',
      '--demo',
      '--listen',
      `127.0.0.1:${port}`,
      '--database-url',
      `sqlite://${path.join(dir, 'campuspay.db')}`,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  let exited = null;
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    }),
  );
  const server = { child, dir, base, exit, log: () => log };
  servers.add(server);

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      throw new Error(`campuspay exited early (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`campuspay did not answer GET /healthz with 200 within 15 s:\n${log}`);
    }
    await sleep(100);
  }
}

async function stopServer(server) {
  if (!servers.delete(server)) return;
  const { child, exit, dir } = server;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

// If the runner dies mid-test, leave no server behind.
process.on('exit', () => {
  for (const s of servers) s.child.kill('SIGKILL');
});

async function shot(page, school, vp, step) {
  await page.screenshot({
    path: path.join(SHOTS, `accounts-${school}-${vp.name}-${step}.png`),
    fullPage: true,
  });
}

async function assertNoHorizontalScroll(page, where) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(
    scrollWidth <= innerWidth,
    `${where}: horizontal scroll (scrollWidth ${scrollWidth} > innerWidth ${innerWidth})`,
  );
}

before(async () => {
  assert.ok(
    fs.existsSync(BIN),
    `campuspay binary not found at ${BIN}: run \`cargo build -p campuspay-server\` or set CAMPUSPAY_BIN`,
  );
  assert.ok(
    fs.existsSync(CHROMIUM),
    `${CHROMIUM} not found: run \`apt-get install -y chromium fonts-wqy-microhei\``,
  );
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of [...servers]) await stopServer(s);
});


/** The answer of a captcha shown on the page, read from the server's SQLite database (only a
 * test may). Uses python3's sqlite3 module, which every machine that runs the suite has. */
function captchaAnswer(server, id) {
  const db = path.join(server.dir, 'campuspay.db');
  const r = spawnSync('python3', [
    '-c',
    'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT answer FROM captchas WHERE id = ?", (sys.argv[2],)).fetchone()[0])',
    db,
    id,
  ]);
  assert.equal(r.status, 0, `reading the captcha failed: ${r.stderr}`);
  return r.stdout.toString().trim();
}

async function solveCaptcha(page, server) {
  if ((await page.locator('input[name="captcha_id"]').count()) === 0) return;
  const id = await page.inputValue('input[name="captcha_id"]');
  await page.fill('#captcha', captchaAnswer(server, id));
}

async function run(t, name, body) {
  const server = await startServer();
  const context = await browser.newContext({ ...PHONE.options, locale: 'zh-CN' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    await body(page, server);
    assert.deepEqual(pageErrors, [], 'JavaScript errors on the pages');
  } catch (e) {
    await shot(page, name, PHONE, 'FAILED').catch(() => {});
    e.message += `\n-- at ${page.url()}\n-- server log (tail):\n${server.log().slice(-3000)}`;
    throw e;
  } finally {
    await context.close();
    await stopServer(server);
  }
}

test('ejt 390x844: recover the password by security e-mail, once', { timeout: 120_000 }, async (t) => {
  await run(t, 'ejt-recovery', async (page, server) => {
    const step = async (name) => {
      await assertNoHorizontalScroll(page, `${name} at ${PHONE.name}`);
      await shot(page, 'ejt-recovery', PHONE, name);
    };
    await page.goto(`${server.base}/s/ejt/`);
    await Promise.all([page.waitForURL(`${server.base}/s/ejt/forgot`), page.click('#forgot-link')]);
    await page.locator('#login').waitFor();
    await step('forgot');
    await page.fill('#login', LIHUA);
    await solveCaptcha(page, server);
    await page.click('form[action="/s/ejt/forgot/email"] button.primary');

    // Seed 001's question before anything is sent.
    const confirm = page.locator('#confirm-text');
    await confirm.waitFor();
    assert.equal((await confirm.textContent()).trim(), '系统将发送邮件到你的密保邮箱，是否确认发送？');
    await step('confirm');
    await page.click('#confirm-send');
    const notice = page.locator('#notice');
    await notice.waitFor();
    assert.match(await notice.textContent(), /30分钟内有效/);
    await step('sent');

    // The demo outbox holds the mail; its link opens the reset form.
    let link;
    for (let i = 0; i < 50 && !link; i++) {
      await page.goto(`${server.base}/demo/outbox`);
      if ((await page.locator('.outbox-link').count()) > 0) {
        link = await page.getAttribute('.outbox-link', 'href');
      } else {
        await sleep(200);
      }
    }
    assert.ok(link && link.startsWith('/s/ejt/reset/'), `no reset link in the outbox: ${link}`);
    assert.match(await page.locator('.outbox-message').first().textContent(), /lihua@ejt\.example\.edu\.cn/);
    await step('outbox');
    await page.goto(`${server.base}${link}`);
    await page.locator('#new_password').waitFor();
    await step('reset');

    // Seed 001: the two new passwords must agree; the rules apply (not the student number).
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', `${NEW_PASSWORD}x`);
    await page.click('button.primary');
    await page.locator('#form-error').waitFor();
    assert.match(await page.locator('#form-error').textContent(), /新密码与确认密码要求一致/);
    await page.fill('#new_password', `a${LIHUA}b`);
    await page.fill('#confirm_password', `a${LIHUA}b`);
    await page.click('button.primary');
    await page.waitForFunction(() => /学号/.test(document.querySelector('#form-error')?.textContent || ''));
    await step('reset-error');
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', NEW_PASSWORD);
    await page.click('button.primary');
    await page.waitForFunction(() => /密码已重置/.test(document.querySelector('#notice')?.textContent || ''));
    await step('done');

    // The link works once.
    const again = await page.goto(`${server.base}${link}`);
    assert.equal(again.status(), 400);
    assert.match(await page.locator('#notice').textContent(), /链接无效或已过期/);

    // The new password logs in, straight to the home page.
    await page.goto(`${server.base}/s/ejt/`);
    await page.fill('#login', LIHUA);
    await page.fill('#password', NEW_PASSWORD);
    await solveCaptcha(page, server);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/s/ejt/home'),
      page.click('button.primary'),
    ]);
    await page.locator('#total-arrears').waitFor();
    await step('home');
    t.diagnostic('ejt: e-mail recovery, link used once, new password logs in');
  });
});

test('ejt 390x844: first login changes the password, then the security page', { timeout: 120_000 }, async (t) => {
  await run(t, 'ejt-first-login', async (page, server) => {
    const step = async (name) => {
      await assertNoHorizontalScroll(page, `${name} at ${PHONE.name}`);
      await shot(page, 'ejt-first-login', PHONE, name);
    };
    await page.goto(`${server.base}/s/ejt/`);
    await page.fill('#login', STUDENT);
    await page.fill('#password', '123456');
    await solveCaptcha(page, server);
    await Promise.all([
      page.waitForURL(`${server.base}/s/ejt/password`),
      page.click('button.primary'),
    ]);
    await page.locator('.notice-box').waitFor();
    await step('forced');
    // The initial password is refused as the new one.
    await page.fill('#old_password', '123456');
    await page.fill('#new_password', '123456');
    await page.fill('#confirm_password', '123456');
    await page.click('button.primary');
    await page.locator('#form-error').waitFor();
    await page.fill('#old_password', '123456');
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', NEW_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/s/ejt/home'),
      page.click('button.primary'),
    ]);
    await page.locator('#total-arrears').waitFor();
    await step('home');

    // Account security: this device, the security log, a security e-mail set with the password.
    await page.goto(`${server.base}/s/ejt/security`);
    const sessions = page.locator('#sessions li');
    assert.equal(await sessions.count(), 1);
    assert.match(await sessions.first().textContent(), /当前设备/);
    const events = await page.locator('#events').textContent();
    assert.match(events, /登录成功/);
    assert.match(events, /修改密码/);
    await page.fill('#security_email', 'student@example.com');
    await page.fill('#email_password', 'wrong-Passw0rd');
    await page.click('form[action="/s/ejt/security/email"] button.primary');
    await page.locator('#form-error').waitFor();
    assert.match(await page.locator('#form-error').textContent(), /登录密码有误/);
    await page.fill('#security_email', 'student@example.com');
    await page.fill('#email_password', NEW_PASSWORD);
    await page.click('form[action="/s/ejt/security/email"] button.primary');
    await page.waitForFunction(() => /密保邮箱已保存/.test(document.body.textContent));
    assert.match(await page.textContent('main'), /student@example\.com/);
    await step('security');
    t.diagnostic('ejt: forced change, security page, security e-mail set');
  });
});
