// Browser tests for the pay pages: at each of the five demo schools, on a phone and a PC
// window, log in (captcha answers read from the test server's SQLite file with the sqlite3
// CLI; the initial password changed where forced), choose an item, agree (ejt: after its
// countdown), confirm, pick a channel (PC: a QR code; phone: the H5/wap or gateway page),
// pay on the simulator's cashier page, and watch the order page turn to 缴费成功 by itself.
//
// Run from the repo root:  node --test tests/browser/
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/pay-{school}-{WxH}-{step}.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
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
    path: path.join(SHOTS, `pay-${school}-${vp.name}-${step}.png`),
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

const SCHOOLS = [
  { code: 'qdou', initial: '01111X' },
  { code: 'ejt', initial: '123456', agreement: true, instalment: '1000' },
  { code: 'cqjzc', initial: '111111' },
  { code: 'czie', initial: '01111XCzgc', profile: true, hours: [8, 22] },
  { code: 'lut', initial: '0101111X' },
];

const PHONE_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

const VIEWPORTS = [
  {
    name: '390x844',
    phone: true,
    options: {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      userAgent: PHONE_UA,
    },
  },
  {
    name: '1366x768',
    phone: false,
    options: { viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 },
  },
];

/** The answer to the captcha on the page, from the server's own database (tests only). */
async function captchaAnswer(server, page) {
  const id = await page.inputValue('input[name="captcha_id"]');
  assert.match(id, /^[A-Za-z0-9_-]+$/);
  const db = path.join(server.dir, 'campuspay.db');
  return execFileSync('sqlite3', [db, `SELECT answer FROM captchas WHERE id = '${id}'`]).toString().trim();
}

function shanghaiHour() {
  return (new Date().getUTCHours() + 8) % 24;
}

async function logIn(server, page, school) {
  await page.goto(`${server.base}/s/${school.code}/`);
  await page.fill('#login', STUDENT);
  await page.fill('#password', school.initial);
  if (await page.locator('#captcha').count()) {
    await page.fill('#captcha', await captchaAnswer(server, page));
  }
  await Promise.all([page.waitForURL((u) => /\/(home|password)$/.test(u.pathname)), page.click('button.primary')]);
  if (page.url().endsWith('/password')) {
    await page.fill('#old_password', school.initial);
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', NEW_PASSWORD);
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/home')), page.click('button.primary')]);
  }
}

for (const school of SCHOOLS) {
  for (const vp of VIEWPORTS) {
    test(`${school.code} ${vp.name}: choose, confirm, pay through the simulator, see 缴费成功`, { timeout: 120_000 }, async (t) => {
      const server = await startServer();
      const context = await browser.newContext({ ...vp.options, locale: 'zh-CN' });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const pageErrors = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      const checkLayout = async (where) => {
        if (vp.phone) await assertNoHorizontalScroll(page, `${where} at ${vp.name}`);
      };
      const step = async (name) => {
        await checkLayout(name);
        await shot(page, school.code, vp, name);
      };

      try {
        await logIn(server, page, school);
        if (school.profile) {
          // czie: phone and e-mail must be valid before paying (seed 003).
          await page.goto(`${server.base}/s/${school.code}/profile`);
          await page.fill('#phone', '15100008891');
          await page.fill('#email', 'zhang@example.com');
          await Promise.all([page.waitForURL((u) => u.search.includes('saved')), page.click('button.primary')]);
          await page.goto(`${server.base}/s/${school.code}/home`);
        }

        // 1. Choose: the first item that can be paid; the running total follows the ticks.
        const box = page.locator('input[name="charge"]').first();
        await box.check();
        const left = Number(await box.getAttribute('data-left'));
        const total = page.locator('#cart-total');
        assert.ok(await total.isVisible(), 'the running total shows with scripts on');
        const id = await box.getAttribute('value');
        let expected = left;
        if (school.instalment && (await page.locator(`#amount-${id}`).count())) {
          await page.fill(`#amount-${id}`, school.instalment);
          expected = Number(school.instalment) * 100;
        }
        const cents = (s) => Number(s.replace(/[¥,]/g, '').replace('.', ''));
        assert.equal(cents(await total.textContent()), expected, 'running total');
        await step('choose');
        await page.click('#choose button.primary');

        // 2. Agreement (ejt): 同意 stays locked for the countdown, then leads on.
        if (school.agreement) {
          await page.waitForURL((u) => u.pathname.endsWith('/pay/agreement'));
          assert.ok(await page.locator('#agree').isDisabled(), '同意 locked during the countdown');
          await step('agreement');
          await page.locator('#agree:not([disabled])').waitFor({ timeout: 15_000 });
          await page.click('#agree');
        }

        const open = !school.hours || (shanghaiHour() >= school.hours[0] && shanghaiHour() < school.hours[1]);
        if (!open) {
          // Outside opening hours the choose step says so, in words.
          await page.locator('#choose-error').waitFor();
          assert.match(await page.locator('#choose-error').textContent(), /当前不在缴费时间/);
          await step('closed');
          t.diagnostic(`${school.code}: outside opening hours, the closed message shown`);
          return;
        }

        // 3. Confirm: items, total and payee; the e-receipt phone prefilled.
        await page.waitForURL((u) => u.pathname.endsWith('/pay/confirm'));
        assert.equal(cents(await page.locator('#confirm-total').textContent()), expected);
        assert.ok((await page.locator('#payee').textContent()).trim().length > 0, 'payee shown');
        assert.match(await page.inputValue('#phone'), /^1\d{10}$/);
        await step('confirm');
        await Promise.all([page.waitForURL((u) => /\/orders\/[A-Z0-9]+$/.test(u.pathname)), page.click('form[action$="/orders"] button.primary')]);

        // 4. The order page: deadline, payee, state in words, channels for this device.
        const orderUrl = page.url();
        assert.match(await page.locator('#deadline').textContent(), /请在 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} 前完成付款/);
        assert.match(await page.locator('#order-state').textContent(), /待支付/);
        const first = await page.locator('input[name="channel"]').first().getAttribute('value');
        if (vp.phone) assert.doesNotMatch(first, /_native|_qr$/, `a phone gets a phone page first, not ${first}`);
        else assert.match(first, /_native|_qr$/, `a PC gets a QR code first, not ${first}`);
        await step('order');
        await page.click('form.methods button.primary');

        if (!vp.phone) {
          // 5a. PC: the QR code; its content is the simulator's cashier, paid from "the phone".
          const qr = page.locator('figure.qr');
          await qr.waitFor();
          assert.match(await qr.textContent(), /请使用(微信|支付宝|云闪付或银行App)扫码支付/);
          assert.match(await page.locator('#order-state').textContent(), /正在确认支付结果/);
          await step('qr');
          const phone = await context.newPage();
          await phone.goto(await qr.getAttribute('data-content'));
          await shot(phone, school.code, vp, 'cashier');
          await phone.click('button[type="submit"]');
          await phone.getByText('支付成功').waitFor();
          await phone.close();
        } else {
          // 5b. Phone: on to the provider's page (UnionPay's form posts itself), pay, come back.
          await page.waitForURL((u) => u.pathname.includes('/sandbox/'));
          await shot(page, school.code, vp, 'cashier');
          await page.click('button[type="submit"]');
          await page.getByText('支付成功').waitFor();
          const back = page.getByRole('link', { name: '返回商户' });
          if (await back.count()) await back.click();
          else await page.goto(orderUrl);
          await page.waitForURL(orderUrl);
        }

        // 6. The order page turns to 缴费成功 by itself (pay.js polls and reloads).
        await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
        assert.match(await page.locator('#order-state').textContent(), /缴费成功/);
        assert.ok(await page.getByRole('link', { name: '支付成功' }).isVisible());
        assert.ok(await page.getByRole('link', { name: '支付遇到问题' }).isVisible());
        await step('paid');
        await page.getByRole('link', { name: '支付成功' }).click();
        await page.locator('#transactions').waitFor();
        await step('records');

        assert.deepEqual(pageErrors, [], 'JavaScript errors on the pages');
        t.diagnostic(`${school.code} ${vp.name}: paid with ${first}`);
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
