// Receipts and the office's money pages (issues 9 and 10), in headless Chromium.
// - A student of lut pays (through the API and the simulator), finds the e-receipt on 缴费记录
//   on a 390×844 phone, downloads its PDF and opens its public verify page.
// - lut's accountant, at 1366×768, opens the collection report (SVG chart, xlsx download),
//   the reconciliation of the day and the exception queue.
// - lut's accountant, at 1366×768, resolves a duplicate payment from the exception queue (the
//   evidence in words, credited to the balance), reads the daily collection, the arrears
//   ageing and today's reconciliation (fees, settlement), and hands cash back on the offline
//   refund page.
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

/** The finance office's API token at lut. */
async function financeToken(server) {
  const r = await api(server, 'POST', '/api/v1/office/login', null, { school: 'lut', login: 'finance', password: 'Finance#2026' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token;
}

async function behaviour(server, provider, b) {
  const res = await fetch(`${server.base}/sandbox/${provider}/behaviour`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(b),
  });
  assert.ok(res.ok, `behaviour ${provider}`);
}

/**
 * A student pays one order twice, with Alipay and then with WeChat (two QR codes open); the
 * second money cannot pay the paid order and its automatic refund is refused by WeChat, so it
 * lands in the exception queue. Answers the exception as the API lists it.
 */
async function duplicateInTheQueue(server) {
  const login = await api(server, 'POST', '/api/v1/student/login', null, { school: 'lut', login: STUDENT, password: NEW_PASSWORD });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const token = login.body.token;
  await behaviour(server, 'wechatpay', { refund: 'refuse', accept_after_close: true });
  const charges = (await api(server, 'GET', '/api/v1/student/charges', token)).body.charges.filter((c) => c.arrears_fen > 0);
  for (const c of charges) {
    const order = await api(server, 'POST', '/api/v1/student/orders', token, { charges: [{ id: c.id }] });
    if (order.status !== 201) continue;
    const no = order.body.order_no;
    const wechat = await api(server, 'POST', `/api/v1/student/orders/${no}/pay`, token, { channel: 'wechat_native' });
    assert.equal(wechat.status, 200, JSON.stringify(wechat.body));
    const alipay = await api(server, 'POST', `/api/v1/student/orders/${no}/pay`, token, { channel: 'alipay_qr' });
    assert.equal(alipay.status, 200, JSON.stringify(alipay.body));
    assert.equal((await fetch(`${server.base}/sandbox/alipay/orders/${alipay.body.out_trade_no}/pay`, { method: 'POST' })).status, 200);
    for (let i = 0; i < 60 && (await api(server, 'GET', `/api/v1/student/orders/${no}`, token)).body.status !== 'paid'; i++) await sleep(250);
    assert.equal((await fetch(`${server.base}/sandbox/wechatpay/orders/${wechat.body.out_trade_no}/pay`, { method: 'POST' })).status, 200);
    const fin = await financeToken(server);
    for (let i = 0; i < 120; i++) {
      const q = (await api(server, 'GET', '/api/v1/office/exceptions', fin)).body;
      const e = q.exceptions.find((x) => x.kind === 'unapplied_money');
      if (e) return e;
      await sleep(250);
    }
    assert.fail('the duplicate money did not reach the queue within 30 s');
  }
  assert.fail('no charge of lut 20230001 could be ordered alone');
}

test('an accountant resolves an exception from the queue and reads the day', { timeout: 120_000 }, async () => {
  await withPage({ name: 'resolve', vp: PC, timeout: 20_000 }, async ({ server, page, shot, assertNoPageErrors }) => {
    await logIn(server, page, LUT);
    const e = await duplicateInTheQueue(server);
    await page.goto(`${server.base}/office/login`);
    await page.fill('#school', 'lut');
    await page.fill('#login', 'finance');
    await page.fill('#password', 'Finance#2026');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/'), page.click('button.primary')]);
    await page.goto(`${server.base}/office/exceptions`);
    const row = page.locator('#exceptions tr', { hasText: `#${e.id}` });
    assert.match(await row.innerText(), /20230001/);
    await shot(page, 'queue');
    // The evidence in words (the provider's refusal included), the raw record one click away,
    // and the student's owed charges to apply the money to, by name.
    const facts = await row.locator('dl.facts-list').innerText();
    assert.match(facts, /渠道\s+微信支付/);
    assert.match(facts, /渠道答复/);
    assert.ok((await row.locator('select[name="charge_id"] option').count()) >= 1, 'the charges to apply to');
    await row.locator('summary').click();
    assert.match(await row.locator('pre.evidence').innerText(), /out_trade_no/);
    await shot(page, 'evidence');
    // 转入余额 with a note: one click, then the queue no longer lists it.
    await row.locator('select[name="action"]').selectOption('credit');
    await row.locator('input[name="note"]').fill('学生同意转入余额，下学期抵缴');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/exceptions'), row.locator('button[type="submit"]').click()]);
    assert.match(await page.locator('[role="status"]').innerText(), /已处理|处理/);
    assert.equal(await page.locator('#exceptions tr', { hasText: `#${e.id}` }).count(), 0, 'gone from the open queue');
    await shot(page, 'resolved');
    const fin = await financeToken(server);
    const all = (await api(server, 'GET', '/api/v1/office/exceptions?status=all', fin)).body.exceptions;
    const done = all.find((x) => x.id === e.id);
    assert.equal(done.status, 'resolved', JSON.stringify(done));
    // Resolving twice is refused.
    const again = await api(server, 'POST', `/api/v1/office/exceptions/${e.id}/resolve`, fin, { action: 'credit' });
    assert.equal(again.status, 409);
    // The day's money per channel: both payments in, nothing out yet; the chart is SVG.
    await page.goto(`${server.base}/office/reports/daily`);
    assert.ok((await page.locator('svg.chart rect').count()) > 0, 'the daily chart draws bars');
    const channels = await page.locator('#channels').innerText();
    assert.match(channels, /微信支付/);
    assert.match(channels, /支付宝/);
    await shot(page, 'daily');
    await page.goto(`${server.base}/office/reports/arrears`);
    assert.ok((await page.locator('#ageing tbody tr').count()) > 0, 'arrears per department');
    await shot(page, 'arrears');
    // Drill-down: a department's students who owe, then the same list as a background export.
    await Promise.all([page.waitForURL(/department=/), page.click('#ageing tbody tr:first-child td:first-child a')]);
    assert.ok((await page.locator('#debtors tbody tr').count()) > 0, 'the students who owe');
    assert.match(await page.locator('#debtors h2').innerText(), /欠费学生/);
    await shot(page, 'arrears-drill');
    await Promise.all([page.waitForURL(/\/office\/exports/), page.click('#debtors form[action="/office/exports"] button')]);
    for (let i = 0; i < 20 && (await page.locator('#exports a.button').count()) === 0; i++) {
      await page.waitForTimeout(500);
      await page.reload();
    }
    assert.match(await page.locator('#exports').innerText(), /欠费明细[\s\S]*可下载/);
    await shot(page, 'exports');
    // Today's reconciliation, run again from the page: per channel, with fees and settlement.
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    await page.goto(`${server.base}/office/reconciliation?date=${today}`);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === '1'), page.click('form[action="/office/reconciliation/run"] button')]);
    const recon = await page.locator('#channels').innerText();
    assert.match(recon, /微信支付/);
    assert.match(recon, /结算金额/);
    await shot(page, 'reconciliation');
    // Cash taken at the counter, handed back from the offline refund page.
    const charges = (await api(server, 'GET', '/api/v1/office/students/20230001', fin)).body;
    const owed = (charges.charges || []).find((c) => c.arrears_fen >= 10000);
    assert.ok(owed, `an owed charge of 20230001: ${JSON.stringify(charges).slice(0, 300)}`);
    const cash = await api(server, 'POST', '/api/v1/office/offline-payments', fin, {
      student_no: '20230001', lines: [{ charge_id: owed.id, amount_fen: 10000 }], method: 'cash', reference: 'SJ-2026-0001',
    });
    assert.equal(cash.status, 200, JSON.stringify(cash.body));
    await page.goto(`${server.base}/office/refunds/offline?method=cash&reference=NOSUCH`);
    assert.match(await page.locator('[role="alert"]').innerText(), /没有这笔线下收款/);
    await page.fill('#reference', 'SJ-2026-0001');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('reference') === 'SJ-2026-0001'), page.click('form[action="/office/refunds/offline"] button')]);
    await page.fill(`#amount-${owed.id}`, '30');
    await page.fill('#reason', '多收，当面退还现金');
    await shot(page, 'offline-refund');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/refunds'), page.click('#offline-refund-form button.primary')]);
    assert.match(await page.locator('[role="status"]').innerText(), /已完成并记账/);
    const refunds = await page.locator('#refunds').innerText();
    assert.match(refunds, /线下收款（现金）SJ-2026-0001/);
    assert.match(refunds, /¥30\.00/);
    await shot(page, 'offline-refunded');
    assertNoPageErrors();
  });
});
