// The finance office's PC pages (issue 8, items 6 and 10) at 1366×768: a cashier takes cash at
// the counter and the student sees it paid; an accountant imports a roster and issues that
// class a charge run; an auditor reads the audit log and cannot take money; a school admin
// replaces a merchant key and edits the school's policy (issue 8, item 2).
// Screenshots: target/screenshots/office-{name}-1366x768-{step}.png.
//
// Run from the repo root:  node --test tests/browser/office.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { browserSuite, logIn, PC } from './harness.mjs';

const { withPage } = browserSuite('office');

const LUT = { code: 'lut', initial: '0101111X' };

/** Log a demo staff member in at /office/login; ends on the dashboard. */
async function staffLogIn(server, page, school, login, password) {
  await page.goto(`${server.base}/office/login`);
  await page.fill('#school', school);
  await page.fill('#login', login);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/office/'), page.click('button.primary')]);
}

/** A valid 18-character ID card number from its first 17 digits (GB 11643 check character). */
function idCard(first17) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * weights[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

/** A one-sheet .xlsx of text cells (inline strings), zipped without compression: enough for
 * the importer (calamine), with nothing but node's own zlib.crc32. */
function xlsx(rows) {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const col = (i) => String.fromCharCode(65 + i);
  const sheetRows = rows
    .map((r, i) => `<row r="${i + 1}">${r.map((c, j) => `<c r="${col(j)}${i + 1}" t="inlineStr"><is><t>${esc(c)}</t></is></c>`).join('')}</row>`)
    .join('');
  const files = {
    '[Content_Types].xml':
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    '_rels/.rels':
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    'xl/workbook.xml':
      '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' +
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="学生名单" sheetId="1" r:id="rId1"/></sheets></workbook>',
    'xl/_rels/workbook.xml.rels':
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    'xl/worksheets/sheet1.xml':
      '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
      `<sheetData>${sheetRows}</sheetData></worksheet>`,
  };
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, 'utf8');
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

test('a. a cashier of lut takes cash for an owed charge; the student then sees it paid', async () => {
  await withPage({ name: 'cashier', vp: PC }, async ({ server, page, step, assertNoPageErrors }) => {
    await page.goto(`${server.base}/office/login`);
    await step('login');
    await staffLogIn(server, page, 'lut', 'cashier', 'Cashier#2026');
    assert.match(await page.title(), /^收费员工作台 - 兰州理工大学/);
    const nav = await page.locator('nav.side').textContent();
    assert.match(nav, /学生查询/);
    assert.doesNotMatch(nav, /批量生成应收|审计日志|导入数据/, 'a cashier sees only what a cashier may use');
    const before = await page.locator('#today .big').textContent();
    await step('dashboard');

    // Find by part of the name, then open the counter.
    await page.fill('#q', '张晓');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/students'), page.click('form[role="search"] button')]);
    const row = page.locator('#results tr', { hasText: '20230001' });
    assert.match(await row.textContent(), /张晓明[\s\S]*3702\*{10}111X/, 'the ID card is masked in the list');
    await step('search');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/students/20230001'), row.locator('a').first().click()]);
    assert.match(await page.title(), /收费台 · 20230001 张晓明/);
    const exam = page.locator('#charges tr', { hasText: '考试费' });
    assert.match(await exam.textContent(), /¥150\.00[\s\S]*未缴/);
    await step('counter');

    // Cash for 考试费 only: tick it, keep the owed amount, give the receipt number.
    const pick = page.locator('#pay-lines tr', { hasText: '考试费' });
    await pick.locator('input[type="checkbox"]').check();
    assert.equal(await pick.locator('input.amount').inputValue(), '150.00');
    await page.selectOption('#method', 'cash');
    await page.fill('#reference', 'SJ-2026-0815');
    await Promise.all([page.waitForURL((u) => u.search === '?done=offline'), page.click('#offline button.primary')]);
    assert.match(await page.locator('#notice').textContent(), /已登记线下收款/);
    assert.match(await exam.textContent(), /¥150\.00[\s\S]*¥0\.00[\s\S]*已缴/);
    assert.match(await page.locator('#ledger').textContent(), /线下收款[\s\S]*考试费[\s\S]*¥150\.00[\s\S]*SJ-2026-0815/);
    await step('paid');

    // Today's collection grew by exactly that.
    await page.goto(`${server.base}/office/`);
    const fen = (s) => Number(s.replace(/[¥,.\s]/g, ''));
    assert.equal(fen(await page.locator('#today .big').textContent()) - fen(before), 15000);

    // The student's own page says 已缴.
    await logIn(server, page, LUT);
    const own = page.locator('table.charges tr', { hasText: '考试费' });
    assert.match(await own.first().textContent(), /已缴/);
    await step('student-home');
    assertNoPageErrors();
  });
});

test('b. an accountant imports a roster (.xlsx) with one bad row, commits it and issues that class a charge run', async () => {
  await withPage({ name: 'accountant', vp: PC, timeout: 20_000 }, async ({ server, page, step, assertNoPageErrors }) => {
    await staffLogIn(server, page, 'lut', 'finance', 'Finance#2026');
    const nav = await page.locator('nav.side').textContent();
    assert.match(nav, /导入数据[\s\S]*批量生成应收/);
    assert.doesNotMatch(nav, /审计日志/);
    await step('dashboard');

    const klass = '2026级测试1班';
    const header = ['学号', '姓名', '性别', '身份证号', '院系', '专业', '层次', '年级', '班级', '手机号', '邮箱'];
    const rows = [
      header,
      ['20269001', '赵一', '男', idCard('62010220050101123'), '继续教育学院', '会计', '本科(专科起点)', '2026', klass, '', ''],
      ['20269002', '钱二', '女', idCard('62010220050202234'), '继续教育学院', '会计', '本科(专科起点)', '2026', klass, '', ''],
      ['20269003', '孙三', '女', '620102200503031', '继续教育学院', '会计', '本科(专科起点)', '2026', klass, '', ''],
    ];
    await page.click('nav.side a[href="/office/imports"]');
    await page.selectOption('#kind', 'students');
    await page.setInputFiles('#file', {
      name: '2026级名单.xlsx',
      mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      buffer: xlsx(rows),
    });
    await step('import-form');
    await Promise.all([page.waitForURL((u) => /^\/office\/imports\/\d+$/.test(u.pathname)), page.click('form[enctype] button.primary')]);
    assert.equal((await page.locator('#rows').textContent()).trim(), '3');
    assert.equal((await page.locator('#valid').textContent()).trim(), '2');
    assert.equal((await page.locator('#bad').textContent()).trim(), '1');
    const bad = page.locator('#row-errors tbody tr');
    assert.equal(await bad.count(), 1);
    assert.match(await bad.textContent(), /^\s*4\s*身份证号/);
    await step('import-preview');
    await Promise.all([page.waitForURL((u) => u.search === '?done=1'), page.click('#commit')]);
    assert.match(await page.locator('#committed').textContent(), /导入完成：新增 2 条，更新 0 条/);
    await step('import-committed');

    // 考试费 for the new class, 200 yuan each: preview, then confirm.
    await page.click('nav.side a[href="/office/charge-runs"]');
    const item = await page.locator('#fee_item option', { hasText: '考试费' }).getAttribute('value');
    await page.selectOption('#fee_item', item);
    await page.selectOption('#period', '2024-2025');
    await page.fill('#amount', '200');
    await page.fill('#class', klass);
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/charge-runs/preview'), page.click('#preview-button')]);
    assert.equal((await page.locator('#preview-students').textContent()).trim(), '2');
    assert.equal((await page.locator('#preview-total').textContent()).trim(), '¥400.00');
    await step('run-preview');
    await Promise.all([page.waitForURL((u) => u.pathname === '/office/charge-runs'), page.click('#confirm-run')]);
    assert.match(await page.locator('#result').textContent(), /已生成应收/);
    assert.equal((await page.locator('#issued-students').textContent()).trim(), '2');
    assert.equal((await page.locator('#issued-total').textContent()).trim(), '¥400.00');
    await step('run-result');

    // The new student's counter shows the charge; a re-sent confirmation issued nothing more.
    await page.goto(`${server.base}/office/students?q=20269002`);
    assert.match(await page.locator('#charges').textContent(), /考试费[\s\S]*¥200\.00[\s\S]*未缴/);
    await step('new-student');
    // A 50-yuan 减免 of it, from the counter's small form.
    const adjust = page.locator('details.adjust', { hasText: '考试费' });
    await adjust.locator('summary').click();
    await adjust.locator('input[name="amount"]').fill('50.001');
    await adjust.locator('form[action$="/waiver"] input[name="reason"]').fill('家庭经济困难');
    await adjust.locator('form[action$="/waiver"] button').click();
    assert.match(await page.locator('details.adjust[open] .alert.error').textContent(), /最多两位小数/);
    await step('waiver-error');
    await page.locator('details.adjust[open] input[name="amount"]').fill('50');
    await page.locator('details.adjust[open] form[action$="/waiver"] input[name="reason"]').fill('家庭经济困难');
    await Promise.all([page.waitForURL((u) => u.search.startsWith('?done=')), page.locator('details.adjust[open] form[action$="/waiver"] button').click()]);
    assert.match(await page.locator('#notice').textContent(), /减免已生效|复核/);
    await step('waiver-done');
    await page.goto(`${server.base}/office/adjustments`);
    await step('adjustments');
    assertNoPageErrors();
  });
});

test('c. an auditor reads the audit log and has no payment form; a cashier gets a 403 page for the audit log', async () => {
  await withPage({ name: 'auditor', vp: PC }, async ({ server, page, step }) => {
    await staffLogIn(server, page, 'lut', 'auditor', 'Auditor#2026');
    await page.click('nav.side a[href="/office/audit"]');
    assert.ok((await page.locator('#audit tbody tr').count()) >= 1);
    assert.match(await page.locator('#audit').textContent(), /staff\.login/);
    await step('audit');
    await page.goto(`${server.base}/office/students/20230001`);
    assert.equal(await page.locator('#offline').count(), 0, 'no payment form for a role that cannot take money');
    await step('counter-readonly');

    await page.click('.bar-button');
    await page.waitForURL((u) => u.pathname === '/office/login');
    await staffLogIn(server, page, 'lut', 'cashier', 'Cashier#2026');
    const res = await page.goto(`${server.base}/office/audit`);
    assert.equal(res.status(), 403);
    assert.match(await page.locator('.alert.error').textContent(), /收费员.*没有“审计日志”权限/);
    await step('forbidden');
  });
});

test('d. a school admin replaces the Alipay private key and edits the school policy', async () => {
  await withPage({ name: 'admin', vp: PC, timeout: 20_000 }, async ({ server, page, step, assertNoPageErrors }) => {
    await staffLogIn(server, page, 'qdou', 'admin', 'Admin#2026');
    const nav = await page.locator('nav.side').textContent();
    assert.match(nav, /公告[\s\S]*人员管理[\s\S]*学校设置[\s\S]*商户配置/);
    assert.doesNotMatch(nav, /新建学校/);

    // A new application key pair, as the school's Alipay key tool would make it.
    const pair = () =>
      crypto.generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
    const first = pair();
    const alipayKey = pair().publicKey;

    await page.click('nav.side a[href="/office/merchants"]');
    await Promise.all([page.waitForURL((u) => u.search.includes('channel=alipay')), page.click('#channels a[href*="channel=alipay"]')]);
    assert.match(await page.locator('#merchant-form h2').textContent(), /支付宝/);
    await page.fill('#app_id', '2021000000000001');
    await page.fill('#app_private_key_pem', 'not a key');
    await page.fill('#alipay_public_key_pem', alipayKey);
    await page.click('#save-merchant');
    // Refused beside its field; the plain fields kept, the typed secret not.
    assert.match(await page.locator('#app_private_key_pem-error').textContent(), /应用私钥无法使用/);
    assert.equal(await page.inputValue('#app_id'), '2021000000000001');
    assert.equal(await page.inputValue('#app_private_key_pem'), '');
    await step('merchant-refused');

    await page.fill('#app_private_key_pem', first.privateKey);
    await page.fill('#alipay_public_key_pem', alipayKey);
    await Promise.all([page.waitForURL((u) => u.search.includes('saved=1')), page.click('#save-merchant')]);
    assert.match(await page.locator('#saved').textContent(), /已保存/);
    assert.match(await page.locator('#channels tr', { hasText: '支付宝' }).textContent(), /已配置/);
    assert.match(await page.locator('#app_private_key_pem-help').textContent(), /已设置（/);
    const html = await page.content();
    assert.ok(!html.includes(first.privateKey.split('\n')[1]), 'the key is never shown again');
    await step('merchant-saved');

    // Replaced by a new key: the other fields stay as they are.
    const second = pair();
    await page.fill('#app_private_key_pem', second.privateKey);
    await Promise.all([page.waitForURL((u) => u.search.includes('saved=1')), page.click('#save-merchant')]);
    assert.equal(await page.inputValue('#app_id'), '2021000000000001');
    assert.match(await page.locator('#app_private_key_pem-help').textContent(), /已设置（/);

    // The policy: an opening time that is no time is refused beside it, then saved.
    await page.click('nav.side a[href="/office/school"]');
    assert.match(await page.locator('h1').textContent(), /学校设置/);
    await step('policy');
    await page.fill('#payee', '青岛某大学财务处');
    await page.fill('#hours_open', '08:00');
    await page.fill('#hours_close', '25:30');
    await page.click('#save-policy');
    assert.match(await page.locator('#g-pay').textContent(), /开放时间写成 08:00 这样的时刻/);
    assert.equal(await page.inputValue('#payee'), '青岛某大学财务处', 'the form comes back as typed');
    await step('policy-refused');
    await page.fill('#hours_close', '22:00');
    await Promise.all([page.waitForURL((u) => u.search === '?saved=1'), page.click('#save-policy')]);
    assert.equal(await page.inputValue('#payee'), '青岛某大学财务处');
    assert.equal(await page.inputValue('#hours_open'), '08:00');
    await step('policy-saved');

    // Both changes are in the audit log, without the key.
    await page.goto(`${server.base}/office/audit`);
    const log = await page.locator('main').textContent();
    assert.match(log, /school\.merchant|商户/);
    assert.ok(!log.includes(second.privateKey.split('\n')[1]));

    // A new cashier: the one-time password is shown once.
    await page.click('nav.side a[href="/office/staff"]');
    await page.fill('#login', 'counter2');
    await page.fill('#name', '王二');
    await page.selectOption('#role', 'cashier');
    await page.click('#add-staff');
    assert.match(await page.locator('#one-time-password').textContent(), /^\S{12,}$/);
    assert.match(await page.locator('#staff-list').textContent(), /counter2[\s\S]*王二[\s\S]*收费员[\s\S]*待修改初始密码/);
    await step('staff');

    // An announcement scheduled for tomorrow.
    await page.click('nav.side a[href="/office/announcements"]');
    await page.fill('#title', '缴费系统维护');
    await page.fill('#body', '周六 22:00 至 24:00 暂停缴费，请提前安排。');
    const tomorrow = new Date(Date.now() + 8 * 3600_000 + 86_400_000).toISOString().slice(0, 16);
    await page.fill('#publish_at', tomorrow);
    await Promise.all([page.waitForURL((u) => u.search === '?done=saved'), page.click('#save-announcement')]);
    assert.match(await page.locator('#announcement-list').textContent(), /缴费系统维护[\s\S]*定时发布/);
    await step('announcements');
    assertNoPageErrors();
  });
});
