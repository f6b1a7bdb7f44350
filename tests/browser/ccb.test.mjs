// Browser test for CCB 龙支付 (seed 003) on a PC window: at czie, choose an item, confirm, pick
// 建行龙支付 on the order page, let the signed 520100 form post itself to the simulated CCB
// gateway, pay at CCB's cashier, come back through CCB's 商户URL, and watch the order turn to
// 缴费成功 (settled by CCB's signed server notification).
//
// Run from the repo root:  node --test tests/browser/ccb.test.mjs
// Needs the server binary (`cargo build -p campuspay-server`, or $CAMPUSPAY_BIN).
// Screenshots go to target/screenshots/ccb-czie-1366x768-{step}.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, logIn, PC } from './harness.mjs';

const { withPage } = browserSuite('ccb');

const CZIE = { code: 'czie', initial: '01111XCzgc' };

test('czie 1366x768: pay through 建行龙支付 at the simulated CCB, back to 缴费成功', { timeout: 120_000 }, async (t) => {
  await withPage({ name: 'czie', vp: PC, timeout: 20_000 }, async ({ server, page, step, shot, assertNoPageErrors }) => {
    // czie takes payments 8:00–22:00 Shanghai time: its admin opens it all day through the
    // office API (as an office would), so the test does not depend on the hour.
    const api = page.request;
    const login = await api.post(`${server.base}/api/v1/office/login`, {
      data: { school: 'czie', login: 'admin', password: 'Admin#2026' },
    });
    assert.equal(login.status(), 200, await login.text());
    const auth = { authorization: `Bearer ${(await login.json()).token}` };
    const school = await (await api.get(`${server.base}/api/v1/office/school/policy`, { headers: auth })).json();
    assert.ok(school.policy.channels.includes('ccb_pay'), 'czie offers 建行龙支付');
    const saved = await api.post(`${server.base}/api/v1/office/school/policy`, {
      headers: auth,
      data: { ...school.policy, opening_hours: null },
    });
    assert.equal(saved.status(), 204, await saved.text());

    await logIn(server, page, CZIE);
    // Seed 003: phone and e-mail first.
    await page.goto(`${server.base}/s/czie/profile`);
    await page.fill('#phone', '15100008891');
    await page.fill('#email', 'zhang@example.com');
    await Promise.all([page.waitForURL((u) => u.search.includes('saved')), page.click('button.primary')]);
    await page.goto(`${server.base}/s/czie/home`);

    await page.locator('input[name="charge"]').first().check();
    await page.click('#choose button.primary');
    await page.waitForURL((u) => u.pathname.endsWith('/pay/confirm'));
    await Promise.all([page.waitForURL((u) => /\/orders\/[A-Z0-9]+$/.test(u.pathname)), page.click('form[action$="/orders"] button.primary')]);
    const orderUrl = page.url();

    // The order page offers 建行龙支付 on a PC, as a page to go to.
    const ccb = page.locator('input[name="channel"][value="ccb_pay"]');
    assert.equal(await ccb.count(), 1, '建行龙支付 offered');
    await ccb.check();
    assert.match(await page.locator('label', { has: ccb }).textContent(), /建行龙支付/);
    await step('order');
    await page.click('form.methods button.primary');

    // The signed form posts itself to CCB's gateway, which checks the MAC and shows its cashier.
    await page.waitForURL((u) => u.pathname.includes('/sandbox/ccb/cashier/'));
    assert.match(await page.locator('body').textContent(), /中国建设银行/);
    assert.match(await page.locator('body').textContent(), /¥\d/);
    await shot(page, 'cashier');
    await page.click('button[type="submit"]');
    await page.getByText('支付成功').waitFor();
    await step('cashier-paid');
    // Back through CCB's 商户URL (the signed fields on the query) to the order.
    await page.getByRole('link', { name: '返回商户' }).click();
    await page.waitForURL(orderUrl);
    await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#order-state').textContent(), /缴费成功/);
    await step('paid');
    assertNoPageErrors();
    t.diagnostic('czie 1366x768: paid with ccb_pay');
  });
});
