// Browser tests for the accounts issue (#4), on a phone-sized window in headless Chromium:
// password recovery by security e-mail at ejt (seed 001: the confirm dialog, the mail in the
// demo outbox, the single-use link), and the first-login password change followed by the
// account security page (sessions, security e-mail).
//
// Run from the repo root:  node --test tests/browser/
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay, relative to the repo
// root): build it first with `cargo build -p campuspay-server`.
// Screenshots go to target/screenshots/accounts-{school}-{WxH}-{step}.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, NEW_PASSWORD, PHONE, sleep, solveCaptcha, STUDENT } from './harness.mjs';

const LIHUA = '20230002'; // has a security e-mail at ejt in the demo seed

const { withPage } = browserSuite('accounts');

/** Run `body` on a phone window against a fresh server; no JavaScript errors on the pages. */
async function run(name, body) {
  await withPage({ name, vp: PHONE }, async (session) => {
    await body(session);
    session.assertNoPageErrors();
  });
}

test('ejt 390x844: recover the password by security e-mail, once', { timeout: 120_000 }, async (t) => {
  await run('ejt-recovery', async ({ server, page, step }) => {
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
  await run('ejt-first-login', async ({ server, page, step }) => {
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
