// Browser tests for the foundation issue: choose a school, log in, forced password change,
// home page with total arrears and the charges table — on a phone and a PC window, in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
//
// Run from the repo root:  node --test tests/browser/
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/foundation-{school}-{WxH}-{step}.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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
const NEW_PASSWORD = 'Campus#Pay2026!';

// Schools whose demo student must change the initial password at first login.
const SCHOOLS = [
  { code: 'cqjzc', initial: '111111' },
  { code: 'lut', initial: '0101111X' },
];

const VIEWPORTS = [
  {
    name: '390x844',
    phone: true,
    options: {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    },
  },
  {
    name: '1366x768',
    phone: false,
    options: { viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 },
  },
];

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
    path: path.join(SHOTS, `foundation-${school}-${vp.name}-${step}.png`),
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

/** Parse `¥2,670.00` into cents; fails on anything else. */
function yuanToCents(text) {
  const m = /^¥(\d{1,3}(?:,\d{3})*|\d+)\.(\d{2})$/.exec(text.trim());
  assert.ok(m, `not a ¥ amount with two decimals: ${JSON.stringify(text)}`);
  return Number(m[1].replaceAll(',', '')) * 100 + Number(m[2]);
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

for (const school of SCHOOLS) {
  for (const vp of VIEWPORTS) {
    test(`${school.code} ${vp.name}: choose school, log in, change password, see arrears`, { timeout: 90_000 }, async (t) => {
      const server = await startServer();
      const context = await browser.newContext({ ...vp.options, locale: 'zh-CN' });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const pageErrors = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      const checkLayout = async (where) => {
        if (vp.phone) await assertNoHorizontalScroll(page, `${where} at ${vp.name}`);
      };

      try {
        // 1. Start page: choose the school's region, then the school.
        const res = await page.goto(`${server.base}/`);
        assert.equal(res.status(), 200);
        assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
        const schoolLink = page.locator(`a.school[href="/s/${school.code}/"]`);
        const region = (await schoolLink.locator('.muted').textContent()).trim();
        assert.ok(region, `no region shown for ${school.code}`);
        await page.selectOption('#region', region);
        await Promise.all([
          page.waitForURL((u) => u.searchParams.get('region') === region),
          page.click('form[action="/"] button[type="submit"]'),
        ]);
        // Only schools of that region are listed now, ours among them.
        const regions = await page.locator('ul.schools a.school .muted').allTextContents();
        assert.ok(regions.length > 0, 'no school listed after choosing the region');
        assert.deepEqual([...new Set(regions.map((r) => r.trim()))], [region]);
        await checkLayout('index');
        await shot(page, school.code, vp, 'index');
        await Promise.all([
          page.waitForURL(`${server.base}/s/${school.code}/`),
          schoolLink.click(),
        ]);

        // 2. Login page; a wrong password is refused in Chinese, on the login page.
        await page.locator('#login').waitFor();
        await checkLayout('login');
        await shot(page, school.code, vp, 'login');
        assert.equal(await page.locator('#captcha').count(), 0, 'unexpected captcha');
        await page.fill('#login', STUDENT);
        await page.fill('#password', 'wrong-Passw0rd');
        await page.click('button.primary');
        const loginError = page.locator('#form-error');
        await loginError.waitFor();
        assert.match(await loginError.textContent(), /学号或密码有误/);
        assert.equal(await loginError.getAttribute('role'), 'alert');
        assert.match(new URL(page.url()).pathname, new RegExp(`^/s/${school.code}/`));
        assert.ok(await page.locator('#password').isVisible(), 'left the login form after a wrong password');
        assert.equal(await page.inputValue('#login'), STUDENT, 'student number not kept');
        await checkLayout('login with error');
        await shot(page, school.code, vp, 'login-error');

        // 3. Right initial password: sent to the forced password change.
        await page.fill('#login', STUDENT);
        await page.fill('#password', school.initial);
        await Promise.all([
          page.waitForURL(`${server.base}/s/${school.code}/password`),
          page.click('button.primary'),
        ]);
        await page.locator('#old_password').waitFor();
        await checkLayout('password');
        await shot(page, school.code, vp, 'password');

        // 4. Confirm differs: Chinese error, still on the password page.
        await page.fill('#old_password', school.initial);
        await page.fill('#new_password', NEW_PASSWORD);
        await page.fill('#confirm_password', `${NEW_PASSWORD}x`);
        await page.click('button.primary');
        const pwError = page.locator('#form-error');
        await pwError.waitFor();
        assert.match(await pwError.textContent(), /新密码与确认密码要求一致/);
        assert.equal(new URL(page.url()).pathname, `/s/${school.code}/password`);
        assert.ok(await page.locator('#new_password').isVisible(), 'left the password form');
        await checkLayout('password with error');
        await shot(page, school.code, vp, 'password-error');

        // 5. Change it for real: the home page.
        await page.fill('#old_password', school.initial);
        await page.fill('#new_password', NEW_PASSWORD);
        await page.fill('#confirm_password', NEW_PASSWORD);
        await Promise.all([
          page.waitForURL((u) => u.pathname === `/s/${school.code}/home`),
          page.click('button.primary'),
        ]);
        const arrears = page.locator('#total-arrears');
        await arrears.waitFor();
        assert.ok(await arrears.isVisible(), '#total-arrears not visible');
        const cents = yuanToCents(await arrears.textContent());
        assert.ok(cents > 0, `total arrears should be > 0, got ${await arrears.textContent()}`);
        const table = page.locator('table.charges').first();
        assert.ok(await table.isVisible(), 'charges table not visible');
        const rows = await page.locator('table.charges tbody tr').count();
        assert.ok(rows > 0, 'charges table has no rows');
        await checkLayout('home');
        await shot(page, school.code, vp, 'home');

        assert.deepEqual(pageErrors, [], 'JavaScript errors on the pages');
        t.diagnostic(`${school.code} ${vp.name}: arrears ${await arrears.textContent()}, ${rows} charge rows`);
      } catch (e) {
        await shot(page, school.code, vp, 'FAILED').catch(() => {});
        e.message += `\n-- at ${page.url()}\n-- server log (tail):\n${server.log().slice(-3000)}`;
        throw e;
      } finally {
        await context.close();
        await stopServer(server);
      }
    });
  }
}
