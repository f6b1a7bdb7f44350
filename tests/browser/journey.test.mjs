// The student's journey as students really walk it (issue 14): one test per item, on a phone
// (390×844, Android or WeChat user agent) or a PC (1366×768) as the item says. Each test failed
// before its fix. Screenshots: target/screenshots/journey-{name}-{WxH}-{step}.png.
//
// Run from the repo root:  node --test tests/browser/journey.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, logIn, solveCaptcha, PC, PHONE } from './harness.mjs';

const { withPage } = browserSuite('journey');

const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
const WECHAT_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36 ' +
  'MicroMessenger/8.0.49.2600(0x28003133) NetType/WIFI Language/zh_CN';

const ANDROID = { ...PHONE, options: { ...PHONE.options, userAgent: ANDROID_UA } };
const WECHAT = { ...PHONE, options: { ...PHONE.options, userAgent: WECHAT_UA } };

const QDOU = { code: 'qdou', initial: '01111X' };
const LUT = { code: 'lut', initial: '0101111X' };
const CQJZC = { code: 'cqjzc', initial: '111111' };
const EJT = { code: 'ejt', initial: '123456' };
const CZIE = { code: 'czie', initial: '01111XCzgc' };

/** Tick the row of `item` (e.g. 学费), confirm, and create the order; ends on the order page. */
async function orderFor(page, item) {
  await page.locator('#choose tr', { hasText: item }).first().locator('input[name="charge"]').check();
  await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/pay/confirm')), page.click('#choose button.primary')]);
  const confirmUrl = page.url();
  await Promise.all([
    page.waitForURL((u) => /\/orders\/[A-Z0-9]+$/.test(u.pathname)),
    page.click('form[action$="/orders"] button.primary'),
  ]);
  return confirmUrl;
}

const channels = (page) => page.locator('input[name="channel"]').evaluateAll((els) => els.map((e) => e.value));

test('1. Back after 退出登录 shows the login page, not the student (PC)', async () => {
  await withPage({ name: 'nostore', vp: PC }, async ({ server, page, step }) => {
    await logIn(server, page, QDOU);
    const res = await page.goto(`${server.base}/s/qdou/payments`);
    assert.match(res.headers()['cache-control'] ?? '', /no-store/, 'a logged-in page is not kept by the browser');
    await page.goto(`${server.base}/s/qdou/home`);
    assert.ok(await page.getByText('张晓明').first().isVisible());
    await Promise.all([page.waitForURL((u) => u.pathname === '/s/qdou/'), page.getByRole('button', { name: '退出登录' }).click()]);
    await page.goBack();
    await page.waitForLoadState('load');
    assert.equal(new URL(page.url()).pathname, '/s/qdou/', 'Back asks the server again and lands on the login page');
    assert.equal(await page.getByText('张晓明').count(), 0, 'the name is not shown after logging out');
    await step('back-after-logout');
  });
});

test('2. 缴费记录 lists offline payments (phone)', async () => {
  await withPage({ name: 'offline', vp: ANDROID }, async ({ server, page, step }) => {
    await page.goto(`${server.base}/s/qdou/`);
    await page.fill('#login', '20230002');
    await page.fill('#password', '15242X');
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/home')), page.click('button.primary')]);
    await page.goto(`${server.base}/s/qdou/payments`);
    assert.equal(await page.getByText('暂无缴费记录').count(), 0);
    await page.locator('#other-records').waitFor();
    assert.ok((await page.getByText('线下缴费').count()) >= 4, 'each offline payment is listed');
    assert.match(await page.locator('#paid').textContent(), /学费[\s\S]*¥2,400\.00/);
    await step('records');
  });
});

test('3a. inside WeChat: WeChat’s own pay sheet (JSAPI) first; no WeChat H5, no Alipay; a QR for another phone', async () => {
  await withPage({ name: 'wechat', vp: WECHAT }, async ({ server, page, step }) => {
    await logIn(server, page, QDOU);
    await orderFor(page, '学费');
    const ms = await channels(page);
    assert.equal(ms[0], 'wechat_jsapi', `first inside WeChat: ${ms}`);
    assert.ok(await page.locator('input[name="channel"][value="wechat_jsapi"]').isChecked());
    assert.ok(!ms.includes('wechat_h5') && !ms.some((m) => m.startsWith('alipay')), `offered in WeChat: ${ms}`);
    assert.match(await page.locator('form.methods').textContent(), /用另一部手机扫码支付/);
    assert.equal(await page.locator('#wechat-note').count(), 0, 'no "cannot pay here" note where JSAPI works');
    await step('order');
  });
});

test('3a. inside WeChat at a school without JSAPI: the gateway first, and a note on how else to pay', async () => {
  await withPage({ name: 'wechatnojsapi', vp: WECHAT }, async ({ server, page, step }) => {
    await logIn(server, page, LUT);
    await orderFor(page, '学费（2024级）');
    const ms = await channels(page);
    assert.ok(ms.length > 0 && !ms.includes('wechat_jsapi') && !ms.includes('wechat_h5'), `offered in WeChat: ${ms}`);
    assert.ok(await page.locator('#wechat-note').isVisible());
    await step('order');
  });
});

test('3d. inside WeChat: sign in with WeChat (snsapi_base), pay on WeChat’s sheet (JSAPI), see 缴费成功', async () => {
  await withPage({ name: 'jsapi', vp: WECHAT, timeout: 20_000 }, async ({ server, page, step, assertNoPageErrors }) => {
    await logIn(server, page, QDOU);
    await orderFor(page, '学费');
    const orderUrl = page.url();
    // 确认支付 → WeChat's sign-in (silent) → back to campuspay → the pay page opens WeChat's sheet.
    await Promise.all([page.waitForURL((u) => /\/s\/qdou\/pay\/[A-Z0-9]+$/.test(u.pathname)), page.click('form.methods button.primary')]);
    const sheet = page.locator('#sandbox-wechat-pay-sheet');
    await sheet.waitFor();
    assert.match(await sheet.textContent(), /¥2,400\.00/);
    await step('sheet');
    // Cancelling keeps the order unpaid and says so; the button opens the sheet again.
    await sheet.getByRole('button', { name: '取消' }).click();
    await page.locator('#jsapi-status', { hasText: '取消' }).waitFor();
    await step('cancelled');
    await page.click('#jsapi-pay');
    await sheet.getByRole('button', { name: '支付' }).click();
    await page.waitForURL((u) => u.href === orderUrl);
    await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#order-state').textContent(), /缴费成功/);
    assertNoPageErrors();
    await step('paid');
  });
});

test('3b. on a PC: QR codes and web cashiers, never phone pages', async () => {
  await withPage({ name: 'pcmethods', vp: PC }, async ({ server, page, step }) => {
    await logIn(server, page, QDOU);
    await orderFor(page, '学费');
    const ms = await channels(page);
    assert.ok(!ms.includes('wechat_h5') && !ms.includes('alipay_wap'), `offered on a PC: ${ms}`);
    assert.match(ms[0], /_native|_qr$/);
    await step('order');
  });
});

test('3c. lut on a phone: WeChat or Alipay phone payment first, QR last for another phone', async () => {
  await withPage({ name: 'lutphone', vp: ANDROID }, async ({ server, page, step }) => {
    await logIn(server, page, LUT);
    await orderFor(page, '学费（2024级）');
    const ms = await channels(page);
    assert.match(ms[0], /wechat_h5|alipay_wap/, `first on a phone: ${ms}`);
    assert.match(ms[ms.length - 1], /_native|_qr$/);
    await step('order');
  });
});

test('4. the confirm page of a paid item says 已缴清 and links the records (PC)', async () => {
  await withPage({ name: 'backpaid', vp: PC, timeout: 20_000 }, async ({ server, context, page, step }) => {
    await logIn(server, page, QDOU);
    const confirmUrl = await orderFor(page, '学费');
    await page.check('input[name="channel"][value="wechat_native"]');
    await page.click('form.methods button.primary');
    const qr = page.locator('figure.qr');
    await qr.waitFor();
    const phone = await context.newPage();
    await phone.goto(await qr.getAttribute('data-content'));
    await phone.click('button[type="submit"]');
    await phone.getByText('支付成功').waitFor();
    await phone.close();
    await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
    // Back to the old confirm page: it is asked for again and says what happened.
    await page.goto(confirmUrl);
    const err = page.locator('#choose-error');
    await err.waitFor();
    assert.match(await err.textContent(), /已缴清/);
    assert.ok(await page.getByRole('link', { name: '查看缴费记录' }).isVisible());
    await step('confirm-again');
  });
});

test('5. ejt: an empty cart is refused at once, before the 10 s agreement', async () => {
  await withPage({ name: 'ejtempty', vp: ANDROID }, async ({ server, page, step }) => {
    await logIn(server, page, EJT);
    const t0 = Date.now();
    await page.click('#choose button.primary');
    await page.locator('#choose-error').waitFor();
    assert.ok(!page.url().includes('/pay/agreement'), 'no agreement for an empty cart');
    assert.match(await page.locator('#choose-error').textContent(), /请选择/);
    assert.ok(Date.now() - t0 < 5000);
    await step('empty');
  });
});

test('6. cqjzc: the ticks suggested for mandatory items are accepted and say what changed', async () => {
  await withPage({ name: 'cqjzc', vp: PC }, async ({ server, page, step }) => {
    await logIn(server, page, CQJZC);
    await page.locator('#choose tr', { hasText: '体检费' }).locator('input[name="charge"]').check();
    await page.click('#choose button.primary');
    const note = page.locator('#choose p.notice-box');
    await note.waitFor();
    const text = await note.textContent();
    assert.match(text, /已为您勾选：.*学费/);
    assert.match(text, /已取消勾选：体检费/);
    await step('suggested');
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/pay/confirm')), page.click('#choose button.primary')]);
    await step('accepted');
  });
});

test('7. czie: paying hours on the home page; the profile refusal links 个人信息', async (t) => {
  await withPage({ name: 'czie', vp: ANDROID }, async ({ server, page, step }) => {
    await logIn(server, page, CZIE);
    const hours = page.locator('#opening-hours');
    assert.match(await hours.textContent(), /08:00–22:00/);
    await step('home');
    const h = (new Date().getUTCHours() + 8) % 24;
    if (h < 8 || h >= 22) {
      // Closed now: say so on the home page, then have the school's admin open all day (through
      // the office API, as an office would), so the profile refusal is walked at any hour.
      assert.match(await hours.textContent(), /当前不在缴费时间/);
      const api = page.request;
      const login = await api.post(`${server.base}/api/v1/office/login`, {
        data: { school: 'czie', login: 'admin', password: 'Admin#2026' },
      });
      assert.equal(login.status(), 200, await login.text());
      const auth = { authorization: `Bearer ${(await login.json()).token}` };
      const school = await (await api.get(`${server.base}/api/v1/office/school/policy`, { headers: auth })).json();
      const policy = { ...school.policy, opening_hours: null };
      const saved = await api.post(`${server.base}/api/v1/office/school/policy`, { headers: auth, data: policy });
      assert.equal(saved.status(), 204, await saved.text());
      t.diagnostic('czie was closed: opened all day through the office API for the profile check');
      await page.reload();
    }
    await page.locator('input[name="charge"]').first().check();
    await page.click('#choose button.primary');
    await page.getByRole('link', { name: '去完善个人信息' }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/profile'));
  });
});

test('8. contact numbers: once at lut, given at qdou', async () => {
  await withPage({ name: 'contact', vp: ANDROID }, async ({ server, page, step }) => {
    await page.goto(`${server.base}/s/lut/forgot`);
    const lut = await page.locator('#contact-office').textContent();
    assert.equal(lut.split('2973882').length - 1, 1, `lut's numbers once: ${lut}`);
    await step('lut');
    await page.goto(`${server.base}/s/qdou/`);
    assert.match(await page.locator('main').textContent(), /联系学院教务办公室[^]*0532-00000000/);
    await step('qdou');
  });
});

test('9. phone: one header bar with a menu; the forced change shows only 退出登录', async () => {
  await withPage({ name: 'header', vp: ANDROID }, async ({ server, page, step }) => {
    await logIn(server, page, QDOU);
    const bar = await page.locator('header.top').boundingBox();
    // One row: the 44 px touch targets and the bar's padding, not three lines of links.
    assert.ok(bar.height <= 72, `header is ${bar.height}px high`);
    const brand = await page.locator('header .brand').boundingBox();
    const menu = await page.locator('label.menu-button').boundingBox();
    assert.ok(Math.abs(brand.y + brand.height / 2 - (menu.y + menu.height / 2)) < 8, 'brand and 菜单 on one line');
    assert.ok(!(await page.getByRole('link', { name: '缴费记录' }).isVisible()), 'links folded');
    await step('closed');
    await page.click('label.menu-button');
    await page.getByRole('link', { name: '缴费记录' }).waitFor();
    await step('open');
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/payments')), page.getByRole('link', { name: '缴费记录' }).click()]);

    await page.goto(`${server.base}/s/cqjzc/`);
    await page.fill('#login', '20230001');
    await page.fill('#password', CQJZC.initial);
    await solveCaptcha(page, server);
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/password')), page.click('button.primary')]);
    assert.equal(await page.locator('header a[href$="/home"]:not(.brand), header a[href$="/payments"]').count(), 0);
    assert.ok(await page.getByRole('button', { name: '退出登录' }).isVisible());
    await step('forced');
  });
});

test('10. the WeChat H5 cashier writes ¥2,400.00 and leads back after 支付成功', async () => {
  await withPage({ name: 'h5', vp: ANDROID, timeout: 20_000 }, async ({ server, page, shot, step }) => {
    await logIn(server, page, QDOU);
    const confirmUrl = await orderFor(page, '学费');
    assert.ok(confirmUrl);
    const orderUrl = page.url();
    await page.check('input[name="channel"][value="wechat_h5"]');
    await page.click('form.methods button.primary');
    await page.waitForURL((u) => u.pathname.includes('/sandbox/'));
    assert.match(await page.locator('.amount').textContent(), /^¥2,400\.00$/);
    await shot(page, 'cashier');
    await page.click('button[type="submit"]');
    await page.getByText('支付成功').waitFor();
    await shot(page, 'result');
    await Promise.all([page.waitForURL(orderUrl), page.getByRole('link', { name: '返回商户' }).click()]);
    await page.locator('#order-state.paid').waitFor({ timeout: 30_000 });
    await step('paid');
  });
});
