// Browser test of the aggregated code (聚合支付, 通联收银宝) on a PC window (1366×768): at qdou,
// choose an item, confirm, pick 扫码支付（微信、支付宝、云闪付均可）, see one QR code any wallet
// can scan, open it as the payer's phone would (通联's cashier), choose a wallet there and pay,
// and watch the order page turn to 缴费成功 by itself.
//
// Run from the repo root:  node --test tests/browser/allinpay.test.mjs
// The server binary is $CAMPUSPAY_BIN (default target/debug/campuspay).
// Screenshots go to target/screenshots/allinpay-qdou-1366x768-{step}.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, logIn, PC } from './harness.mjs';

const { withPage } = browserSuite('allinpay');

test('qdou 1366x768: one code, any wallet, 缴费成功', { timeout: 120_000 }, async (t) => {
  await withPage({ name: 'qdou', vp: PC, timeout: 20_000 }, async ({ server, context, page, step, shot, assertNoPageErrors }) => {
    await logIn(server, page, { code: 'qdou', initial: '01111X' });
    await page.locator('input[name="charge"]').first().check();
    await page.click('#choose button.primary');
    await page.waitForURL((u) => u.pathname.endsWith('/pay/confirm'));
    await Promise.all([page.waitForURL((u) => /\/orders\/[A-Z0-9]+$/.test(u.pathname)), page.click('form[action$="/orders"] button.primary')]);

    // The order page offers the aggregated code among the QR methods of a PC.
    const option = page.locator('input[name="channel"][value="allinpay_qr"]');
    assert.equal(await option.count(), 1, 'qdou offers 聚合支付');
    const label = await page.locator('label', { has: option }).textContent();
    assert.match(label, /扫码支付（微信、支付宝、云闪付均可）/);
    await option.check();
    await step('order');
    await page.click('form.methods button.primary');

    // One code: its caption names every wallet; its content is 通联's H5 cashier order.
    const qr = page.locator('figure.qr');
    await qr.waitFor();
    assert.match(await qr.textContent(), /请使用微信、支付宝或云闪付扫码支付/);
    const content = await qr.getAttribute('data-content');
    assert.match(content, /\/sandbox\/allinpay\/apiweb\/h5unionpay\/unionorder\?.*reqsn=.*sign=/);
    await step('qr');

    // The payer's phone opens it: 通联's cashier asks which wallet, and the payer pays with Alipay.
    const phone = await context.newPage();
    await phone.goto(content);
    for (const wallet of ['微信支付', '支付宝', '云闪付']) {
      assert.ok(await phone.getByRole('button', { name: wallet }).isVisible(), `${wallet} offered`);
    }
    await shot(phone, 'cashier');
    await phone.getByRole('button', { name: '支付宝' }).click();
    await phone.getByText('支付成功').waitFor();
    await phone.close();

    // The order page turns to 缴费成功 by itself.
    await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#order-state').textContent(), /缴费成功/);
    await step('paid');
    assertNoPageErrors();
    t.diagnostic('qdou 1366x768: paid through the aggregated code with Alipay');
  });
});
