// Receipts and the office's money pages (issues 9 and 10), in headless Chromium.
// - A student of lut pays (through the API and the simulator), finds the e-receipt on 缴费记录
//   on a 390×844 phone, downloads its PDF and opens its public verify page.
// - lut's accountant, at 1366×768, opens the collection report (SVG chart, xlsx download),
//   the reconciliation of the day and the exception queue.
// Screenshots: target/screenshots/money-{name}-{WxH}-{step}.png.
//
// Run from the repo root:  node --test tests/browser/money.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite, logIn, NEW_PASSWORD, PC, PHONE, STUDENT, sleep } from './harness.mjs';

const { withPage } = browserSuite('money');
const LUT = { code: 'lut', initial: '0101111X' };

async function api(server, method, path, token, body) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Pays lut student 20230001's first owed charge through the simulator; answers the amount. */
async function payOneCharge(server) {
  // The browser log-in changed the initial password where the school forces it.
  let login = await api(server, 'POST', '/api/v1/student/login', null, { school: 'lut', login: STUDENT, password: NEW_PASSWORD });
  if (login.status !== 200) {
    login = await api(server, 'POST', '/api/v1/student/login', null, { school: 'lut', login: STUDENT, password: LUT.initial });
  }
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const token = login.body.token;
  const charges = (await api(server, 'GET', '/api/v1/student/charges', token)).body.charges.filter((c) => c.arrears_fen > 0);
  for (const c of charges) {
    const order = await api(server, 'POST', '/api/v1/student/orders', token, { charges: [{ id: c.id }] });
    if (order.status !== 201) continue;
    const pay = await api(server, 'POST', `/api/v1/student/orders/${order.body.order_no}/pay`, token, { channel: 'wechat_native' });
    assert.equal(pay.status, 200, JSON.stringify(pay.body));
    const paid = await fetch(`${server.base}/sandbox/wechatpay/orders/${pay.body.out_trade_no}/pay`, { method: 'POST' });
    assert.equal(paid.status, 200);
    for (let i = 0; i < 60; i++) {
      const receipts = (await api(server, 'GET', '/api/v1/student/receipts', token)).body;
      const list = Array.isArray(receipts) ? receipts : Object.values(receipts).find(Array.isArray);
      if (list.some((r) => r.amount_fen === order.body.total_fen)) return order.body.total_fen;
      await sleep(250);
    }
    assert.fail('no receipt within 15 s of paying');
  }
  assert.fail('no charge of lut 20230001 could be ordered alone');
}

test('a student finds the e-receipt on a phone, downloads it and verifies it publicly', { timeout: 90_000 }, async () => {
  await withPage({ name: 'receipt', vp: PHONE, timeout: 20_000 }, async ({ server, context, page, shot, assertNoPageErrors }) => {
    await logIn(server, page, LUT);
    await payOneCharge(server);
    await page.goto(`${server.base}/s/lut/payments`);
    const receipts = page.locator('#receipts');
    await receipts.scrollIntoViewIfNeeded();
    assert.match(await receipts.innerText(), /电子票据/);
    // The cell shows 票据代码 and 票据号码: the number is the last part.
    const number = (await receipts.locator('td.mono').first().innerText()).trim().split(/\s+/).pop();
    assert.ok(number.length > 0, 'the receipt has its number');
    await shot(page, 'records');
    const pdfHref = await receipts.locator('a[download]').first().getAttribute('href');
    const pdf = await context.request.get(`${server.base}${pdfHref}`);
    assert.equal(pdf.status(), 200);
    assert.match(pdf.headers()['content-type'], /application\/pdf/);
    assert.equal((await pdf.body()).subarray(0, 4).toString(), '%PDF');
    // The verify page is public: a fresh context without the student's session opens it.
    const verifyHref = await receipts.locator('a', { hasText: '查验' }).first().getAttribute('href');
    const anonymous = await context.browser().newContext({ ...PHONE.options, locale: 'zh-CN' });
    const pub = await anonymous.newPage();
    await pub.goto(verifyHref.startsWith('http') ? verifyHref : `${server.base}${verifyHref}`);
    const text = await pub.locator('body').innerText();
    assert.ok(text.includes(number), 'the verify page shows the receipt number');
    assert.match(text, /有效|真实/, 'and says it is valid');
    await shot(pub, 'verify');
    // In English, still the same receipt.
    await pub.click('a.lang');
    const en = await pub.locator('body').innerText();
    assert.ok(en.includes(number), 'the language switch keeps the receipt');
    assert.match(en, /Genuine and valid/);
    await shot(pub, 'verify-en');
    await anonymous.close();
    assertNoPageErrors();
  });
});

test('an accountant reads the collection report, the reconciliation and the exception queue', { timeout: 90_000 }, async () => {
  await withPage({ name: 'office', vp: PC, timeout: 20_000 }, async ({ server, context, page, shot, assertNoPageErrors }) => {
    await page.goto(`${server.base}/office/login`);
    await page.fill('#school', 'lut');
    await page.fill('#login', 'finance');
    await page.fill('#password', 'Finance#2026');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/'), page.click('button.primary')]);
    await page.goto(`${server.base}/office/reports`);
    // The newest period may have nothing issued yet: show the first one that has charges.
    const periods = await page.locator('#period option').evaluateAll((os) => os.map((o) => o.value));
    for (const p of periods) {
      await page.goto(`${server.base}/office/reports?period=${encodeURIComponent(p)}&by=class`);
      if ((await page.locator('svg.chart rect').count()) > 0) break;
    }
    assert.ok((await page.locator('svg.chart rect').count()) > 0, 'the report draws its bars as SVG');
    await shot(page, 'report');
    const xlsx = page.locator('a[href*="format=xlsx"]').first();
    const href = await xlsx.getAttribute('href');
    const file = await context.request.get(href.startsWith('http') ? href : `${server.base}${href}`);
    assert.equal(file.status(), 200);
    assert.equal((await file.body()).subarray(0, 2).toString(), 'PK', 'a real .xlsx (zip)');
    await page.goto(`${server.base}/office/reconciliation`);
    assert.match(await page.locator('body').innerText(), /对账/);
    await shot(page, 'reconciliation');
    await page.goto(`${server.base}/office/exceptions`);
    assert.match(await page.locator('body').innerText(), /异常|待处理/);
    await shot(page, 'exceptions');
    assertNoPageErrors();
  });
});
