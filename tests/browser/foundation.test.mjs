// Browser tests for the foundation issue: choose a school, log in, forced password change,
// home page with total arrears and the charges table — on a phone and a PC window, in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
//
// Run from the repo root:  node --test tests/browser/
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/foundation-{school}-{WxH}-{step}.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, NEW_PASSWORD, PC, PHONE, STUDENT } from './harness.mjs';

const { withPage } = browserSuite('foundation');

// Schools whose demo student must change the initial password at first login.
const SCHOOLS = [
  { code: 'cqjzc', initial: '111111' },
  { code: 'lut', initial: '0101111X' },
];

const VIEWPORTS = [PHONE, PC];

/** Parse `¥2,670.00` into cents; fails on anything else. */
function yuanToCents(text) {
  const m = /^¥(\d{1,3}(?:,\d{3})*|\d+)\.(\d{2})$/.exec(text.trim());
  assert.ok(m, `not a ¥ amount with two decimals: ${JSON.stringify(text)}`);
  return Number(m[1].replaceAll(',', '')) * 100 + Number(m[2]);
}

for (const school of SCHOOLS) {
  for (const vp of VIEWPORTS) {
    test(`${school.code} ${vp.name}: choose school, log in, change password, see arrears`, { timeout: 90_000 }, async (t) => {
      await withPage({ name: school.code, vp }, async ({ server, page, checkLayout, shot, assertNoPageErrors }) => {
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
        await shot(page, 'index');
        await Promise.all([
          page.waitForURL(`${server.base}/s/${school.code}/`),
          schoolLink.click(),
        ]);

        // 2. Login page; a wrong password is refused in Chinese, on the login page.
        await page.locator('#login').waitFor();
        await checkLayout('login');
        await shot(page, 'login');
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
        await shot(page, 'login-error');

        // 3. Right initial password: sent to the forced password change.
        await page.fill('#login', STUDENT);
        await page.fill('#password', school.initial);
        await Promise.all([
          page.waitForURL(`${server.base}/s/${school.code}/password`),
          page.click('button.primary'),
        ]);
        await page.locator('#old_password').waitFor();
        await checkLayout('password');
        await shot(page, 'password');

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
        await shot(page, 'password-error');

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
        await shot(page, 'home');

        assertNoPageErrors();
        t.diagnostic(`${school.code} ${vp.name}: arrears ${await arrears.textContent()}, ${rows} charge rows`);
      });
    });
  }
}
