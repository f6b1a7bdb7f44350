// What the browser tests share: the campuspay server they drive (one `campuspay serve --demo`
// per test, on a free port, with a fresh SQLite database in a new temp dir), headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core), the two window sizes, screenshots,
// captcha answers and the log-in / forced password change.
//
// A test file calls `browserSuite(prefix)` once at the top: it registers the before/after hooks
// (a missing server binary or Chromium fails every test of the file; nothing is skipped) and
// gives `withPage`, which runs one test body against its own server and browser context.
//
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/{prefix}-{name}-{WxH}-{step}.png.

import { before, after } from 'node:test';
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
export const REPO = path.resolve(HERE, '..', '..');
export const BIN = path.resolve(REPO, process.env.CAMPUSPAY_BIN || 'target/debug/campuspay');
export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = path.join(REPO, 'target', 'screenshots');

/** The demo seed's student at every school, and the password the tests change to. */
export const STUDENT = '20230001';
export const NEW_PASSWORD = 'Campus#Pay2026!';

/** A phone (`phone: true`: checked for horizontal scroll) and a PC window. */
export const PHONE = {
  name: '390x844',
  phone: true,
  options: {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  },
};

export const PC = {
  name: '1366x768',
  phone: false,
  options: { viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 },
};

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const servers = new Set();

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

/** Start `campuspay serve --demo` on a free port with a fresh database in a new temp dir. */
export async function startServer() {
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

export async function stopServer(server) {
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

export async function assertNoHorizontalScroll(page, where) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(
    scrollWidth <= innerWidth,
    `${where}: horizontal scroll (scrollWidth ${scrollWidth} > innerWidth ${innerWidth})`,
  );
}

/** The answer of captcha `id`, read from the server's SQLite database with the sqlite3 CLI
 * (only a test may). Fails if the id looks odd or the captcha is not there. */
export function captchaAnswer(server, id) {
  assert.match(id, /^[A-Za-z0-9_-]+$/);
  const db = path.join(server.dir, 'campuspay.db');
  const answer = execFileSync('sqlite3', [db, `SELECT answer FROM captchas WHERE id = '${id}'`]).toString().trim();
  assert.ok(answer, `no captcha ${id} in ${db}`);
  return answer;
}

/** Fill in the captcha if the form shows one (a captcha field or its hidden id). */
export async function solveCaptcha(page, server) {
  const shown =
    (await page.locator('#captcha').count()) > 0 ||
    (await page.locator('input[name="captcha_id"]').count()) > 0;
  if (!shown) return;
  const id = await page.inputValue('input[name="captcha_id"]');
  await page.fill('#captcha', captchaAnswer(server, id));
}

/** Log the demo student in at `school` ({ code, initial }) with the initial password, changing
 * it to NEW_PASSWORD where the school forces that; ends on the home page. */
export async function logIn(server, page, school) {
  await page.goto(`${server.base}/s/${school.code}/`);
  await page.fill('#login', STUDENT);
  await page.fill('#password', school.initial);
  await solveCaptcha(page, server);
  await Promise.all([page.waitForURL((u) => /\/(home|password)$/.test(u.pathname)), page.click('button.primary')]);
  if (page.url().endsWith('/password')) {
    await page.fill('#old_password', school.initial);
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', NEW_PASSWORD);
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/home')), page.click('button.primary')]);
  }
}

/**
 * Set up a test file: checks that the server binary and Chromium are there and launches
 * Chromium before its tests, closes it and stops any server left after them. Screenshots are
 * named `{prefix}-{name}-{WxH}-{step}.png`.
 */
export function browserSuite(prefix) {
  let browser;

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
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    if (browser) await browser.close();
    for (const s of [...servers]) await stopServer(s);
  });

  async function shot(page, name, vp, step) {
    await page.screenshot({
      path: path.join(SHOTS, `${prefix}-${name}-${vp.name}-${step}.png`),
      fullPage: true,
    });
  }

  /**
   * Run `body` against a fresh server and a new zh-CN browser context of viewport `vp`, with
   * page timeouts of `timeout` ms. The body gets { server, context, page, checkLayout(where),
   * shot(page, step), step(name), assertNoPageErrors() }. On failure: a `FAILED` screenshot,
   * and the page's address and the server log's tail added to the error. Always: the context
   * closed and the server stopped.
   */
  async function withPage({ name, vp, timeout = 15_000 }, body) {
    const server = await startServer();
    const context = await browser.newContext({ ...vp.options, locale: 'zh-CN' });
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    /** On a phone window: no horizontal scroll. */
    const checkLayout = async (where) => {
      if (vp.phone) await assertNoHorizontalScroll(page, `${where} at ${vp.name}`);
    };
    /** The layout check and a screenshot, both named `name`. */
    const step = async (stepName) => {
      await checkLayout(stepName);
      await shot(page, name, vp, stepName);
    };
    const assertNoPageErrors = () => assert.deepEqual(pageErrors, [], 'JavaScript errors on the pages');

    try {
      return await body({
        server,
        context,
        page,
        checkLayout,
        shot: (p, stepName) => shot(p, name, vp, stepName),
        step,
        assertNoPageErrors,
      });
    } catch (e) {
      await shot(page, name, vp, 'FAILED').catch(() => {});
      e.message += `\n-- at ${page.url()}\n-- server log (tail):\n${server.log().slice(-3000)}`;
      throw e;
    } finally {
      await context.close();
      await stopServer(server);
    }
  }

  return { shot, withPage };
}
