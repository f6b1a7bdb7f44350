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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, logIn, PC, PHONE } from './harness.mjs';

const { withPage } = browserSuite('pay');

const SCHOOLS = [
  { code: 'qdou', initial: '01111X' },
  { code: 'ejt', initial: '123456', agreement: true, instalment: '1000' },
  { code: 'cqjzc', initial: '111111' },
  { code: 'czie', initial: '01111XCzgc', profile: true, hours: [8, 22] },
  { code: 'lut', initial: '0101111X' },
];

const PHONE_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

const VIEWPORTS = [{ ...PHONE, options: { ...PHONE.options, userAgent: PHONE_UA } }, PC];

function shanghaiHour() {
  return (new Date().getUTCHours() + 8) % 24;
}

for (const school of SCHOOLS) {
  for (const vp of VIEWPORTS) {
    test(`${school.code} ${vp.name}: choose, confirm, pay through the simulator, see 缴费成功`, { timeout: 120_000 }, async (t) => {
      await withPage({ name: school.code, vp, timeout: 20_000 }, async ({ server, context, page, step, shot, assertNoPageErrors }) => {
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
          await shot(phone, 'cashier');
          await phone.click('button[type="submit"]');
          await phone.getByText('支付成功').waitFor();
          await phone.close();
        } else {
          // 5b. Phone: on to the provider's page (UnionPay's form posts itself), pay, come back.
          await page.waitForURL((u) => u.pathname.includes('/sandbox/'));
          await shot(page, 'cashier');
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

        assertNoPageErrors();
        t.diagnostic(`${school.code} ${vp.name}: paid with ${first}`);
      });
    });
  }
}
