//! Five demo schools, each modelled on one seed manual (`shared/seeds/000`…`004`), seeded once
//! by `serve --demo` into an empty database. Every school has the student `20230001`
//! (ID card 37020220000101111X, never logged in, owing items in two years), a fully paid
//! student `20230002` and a student with a discount `20230003`.

use campuspay_app::jobs::Job;
use campuspay_domain::LedgerKind;
use campuspay_domain::office::Role;
use campuspay_domain::policy::*;
use campuspay_domain::{Fen, SchoolPolicy, idcard};
use campuspay_store::charges::{NewFeeItem, NewLedgerEntry};
use campuspay_store::office::NewOfflinePayment;
use campuspay_store::schools::NewSchool;
use campuspay_store::staff::NewStaff;
use campuspay_store::students::NewStudent;
use campuspay_store::{Store, StoreError, db_now};

pub const DEMO_ID_CARD: &str = "37020220000101111X";

struct Item {
    code: &'static str,
    name: &'static str,
    name_en: &'static str,
    category: &'static str,
    receipt: &'static str,
    mandatory: bool,
    parent: Option<&'static str>,
    instalment_min_yuan: Option<i64>,
    /// (days from now the window opened, days from now it closes, collecting)
    window: Option<(i64, i64, bool)>,
}

const fn item(code: &'static str, name: &'static str, name_en: &'static str, category: &'static str, receipt: &'static str) -> Item {
    Item { code, name, name_en, category, receipt, mandatory: false, parent: None, instalment_min_yuan: None, window: None }
}

struct DemoSchool {
    code: &'static str,
    name: &'static str,
    name_en: &'static str,
    region: &'static str,
    policy: SchoolPolicy,
    /// (code, name, academic year)
    periods: Vec<(&'static str, &'static str, &'static str)>,
    items: Vec<Item>,
    /// (item code, period index, yuan) owed by 20230001
    owed: Vec<(&'static str, usize, i64)>,
    announcements: Vec<(&'static str, &'static str)>,
}

#[allow(clippy::too_many_arguments)] // one argument per way the seed schools differ
fn policy(
    login_ids: Vec<LoginId>,
    initial_password: InitialPassword,
    force: bool,
    recovery: Vec<Recovery>,
    captcha: bool,
    order_no: OrderNoFormat,
    channels: &[&str],
    payee: &str,
) -> SchoolPolicy {
    SchoolPolicy {
        login_ids,
        initial_password,
        force_change_initial: force,
        force_change_weak: force,
        recovery,
        captcha,
        opening_hours: None,
        order_no,
        order_ttl_minutes: 24 * 60,
        item_lock_minutes: 10,
        reuse_unpaid_order: false,
        channels: channels.iter().map(|c| c.to_string()).collect(),
        payee: payee.into(),
        profile_required: false,
        agreement: None,
        session_idle_minutes: 30,
        session_absolute_hours: 12,
        late_payment: LatePayment::Refund,
        contact: String::new(),
        // ¥1,000: a waiver of a whole tuition fee needs a second person, a small one does not.
        approval_threshold_fen: 100_000,
        staff_totp_required: false,
        receipt: ReceiptPolicy::default(),
    }
}

/// The demo schools' policies (the form round-trip test reads them).
pub fn seed_policies() -> Vec<SchoolPolicy> {
    schools().into_iter().map(|s| s.policy).collect()
}

fn schools() -> Vec<DemoSchool> {
    let tail = |len, suffix: &str| InitialPassword::IdCardTail { len, suffix: suffix.into() };
    let fixed = |p: &str| InitialPassword::Fixed { password: p.into() };
    let seq = |prefix: &str, code: &str| OrderNoFormat::DailySequence { prefix: prefix.into(), school_code: code.into() };

    // 000 青岛开放大学: 学号 or 手机号, last 6 of the ID card, 30-digit order numbers, 24 h to pay.
    let qdou = DemoSchool {
        code: "qdou",
        name: "青岛开放大学",
        name_en: "Qingdao Open University",
        region: "山东省",
        policy: SchoolPolicy {
            contact: "0532-00000000（演示）".into(),
            ..policy(
                vec![LoginId::StudentNo, LoginId::Phone],
                tail(6, ""),
                false,
                vec![Recovery::ContactOffice { text: "请联系学院教务办公室重置密码（演示学校）".into() }],
                false,
                OrderNoFormat::TimestampRandom,
                &["wechat_native", "wechat_h5", "wechat_jsapi", "alipay_qr", "alipay_wap", "unionpay_qr", "allinpay_qr"],
                "青岛开放大学",
            )
        },
        periods: vec![("2024秋", "2024年秋季学期", "2024-2025"), ("2025春", "2025年春季学期", "2024-2025")],
        items: vec![
            item("XF", "学费", "Tuition", "tuition", "非税收入票据"),
            item("ZKF", "正考费用", "Exam fee", "exam", "非税收入票据"),
            item("BKF", "补考费", "Resit fee", "resit", "非税收入票据"),
            item("ZCJD", "注册建档费", "Registration fee", "registration", "非税收入票据"),
        ],
        owed: vec![("XF", 1, 2400), ("ZKF", 1, 120), ("BKF", 0, 50), ("ZCJD", 0, 100)],
        announcements: vec![(
            "2025年春季学期缴费通知",
            "请于开学前完成学费及考试费缴纳。支付后如未立即显示缴费成功，请勿重复缴费，系统会自动确认。",
        )],
    };
    // 001 E缴通: captcha, initial 123456 forced to change, security e-mail, instalments, agreement.
    let ejt = DemoSchool {
        code: "ejt",
        name: "E缴通演示学院",
        name_en: "E-Pay Demo College",
        region: "江苏省",
        policy: SchoolPolicy {
            agreement: Some(Agreement {
                title: "网上缴费须知".into(),
                text: "请核对缴费项目与金额；支付成功后系统自动更新缴费状态，请勿重复支付。".into(),
                countdown_s: 10,
            }),
            ..policy(
                vec![LoginId::StudentNo],
                fixed("123456"),
                true,
                vec![Recovery::Email],
                true,
                seq("EJ", "EJTDM"),
                &["wechat_native", "alipay_page", "alipay_wap", "alipay_qr", "unionpay_gateway", "allinpay_qr"],
                "E缴通演示学院",
            )
        },
        periods: vec![("2023-2024", "2023-2024学年", "2023-2024"), ("2024-2025", "2024-2025学年", "2024-2025")],
        items: vec![
            Item { instalment_min_yuan: Some(1000), ..item("XF", "学费", "Tuition", "tuition", "非税收入票据") },
            item("ZSF", "住宿费", "Accommodation", "accommodation", "非税收入票据"),
            item("JCF", "教材费", "Textbooks", "agency", "代收款收据"),
        ],
        owed: vec![("XF", 1, 5600), ("ZSF", 1, 1200), ("JCF", 0, 380)],
        announcements: vec![(
            "关于2024-2025学年学费缴纳的通知",
            "学费可分期缴纳，每期不少于1000元。首次登录请修改初始密码并设置密保邮箱。",
        )],
    };
    // 002 重庆建筑工程职业学院 via 校园安心付: region then school, 111111, mandatory items, parent item.
    let cqjzc = DemoSchool {
        code: "cqjzc",
        name: "重庆建筑工程职业学院",
        name_en: "Chongqing Jianzhu College",
        region: "重庆市",
        policy: policy(
            vec![LoginId::StudentNo],
            fixed("111111"),
            true,
            vec![Recovery::Sms { daily_limit: 5 }],
            false,
            seq("AX", "CQJZC"),
            &["unionpay_gateway", "wechat_native", "wechat_h5"],
            "重庆建筑工程职业学院",
        ),
        periods: vec![("2023-2024", "2023-2024学年", "2023-2024"), ("2024-2025", "2024-2025学年", "2024-2025")],
        items: vec![
            Item { mandatory: true, ..item("XF", "学费", "Tuition", "tuition", "非税收入票据") },
            Item { mandatory: true, ..item("ZSF", "住宿费", "Accommodation", "accommodation", "非税收入票据") },
            Item { mandatory: true, ..item("TDF", "提档费", "File transfer fee", "registration", "非税收入票据") },
            item("DBF", "代办费", "Agency fees", "agency", "代收款收据"),
            Item { parent: Some("DBF"), ..item("JCF", "教材费", "Textbooks", "agency", "代收款收据") },
            Item { parent: Some("DBF"), ..item("BXF", "保险费", "Insurance", "agency", "代收款收据") },
            item("TJF", "体检费", "Health check", "agency", "代收款收据"),
        ],
        owed: vec![("XF", 1, 6800), ("ZSF", 1, 1500), ("TDF", 1, 50), ("JCF", 1, 420), ("BXF", 1, 150), ("TJF", 0, 80)],
        announcements: vec![("缴费提示", "含有必缴项目必须先支付必缴项目后才能再支付其它缴费项目。")],
    };
    // 003 常州工程职业技术学院: captcha, last 6 + Czgc, opening hours, two receipt types, profile first.
    let czie = DemoSchool {
        code: "czie",
        name: "常州工程职业技术学院",
        name_en: "Changzhou Institute of Engineering Technology",
        region: "江苏省",
        policy: SchoolPolicy {
            opening_hours: Some(OpeningHours { open_minute: 8 * 60, close_minute: 22 * 60 }),
            profile_required: true,
            ..policy(
                vec![LoginId::StudentNo],
                tail(6, "Czgc"),
                true,
                vec![Recovery::Sms { daily_limit: 5 }],
                true,
                seq("CZ", "CZIE"),
                &["wechat_native", "wechat_jsapi", "alipay_page", "alipay_qr", "ccb_pay"],
                "常州工程职业技术学院",
            )
        },
        periods: vec![("2023-2024", "2023-2024学年", "2023-2024"), ("2024-2025", "2024-2025学年", "2024-2025")],
        items: vec![
            item("XF", "学费", "Tuition", "tuition", "非税收入票据"),
            item("ZSF", "住宿费", "Accommodation", "accommodation", "非税收入票据"),
            item("JCF", "教材费", "Textbooks", "agency", "代收款收据"),
            item("JXFZ", "军训服装费", "Military training uniform", "agency", "代收款收据"),
            item("BXF", "保险费", "Insurance", "agency", "代收款收据"),
        ],
        owed: vec![("XF", 1, 5500), ("ZSF", 1, 1200), ("JCF", 1, 450), ("JXFZ", 1, 180), ("BXF", 0, 100)],
        announcements: vec![("缴费开放时间", "缴费开放时间为每天 8:00-22:00。商户名称或收款方一定是常州工程职业技术学院。")],
    };
    // 004 兰州理工大学 继续教育学院: last 8 with X upper-cased, windows, collecting/stopped, XF…LUTAU numbers.
    let lut = DemoSchool {
        code: "lut",
        name: "兰州理工大学（继续教育学院）",
        name_en: "Lanzhou University of Technology (Continuing Education)",
        region: "甘肃省",
        policy: SchoolPolicy {
            reuse_unpaid_order: true,
            contact: "学院电话 2755282 2973633；财务处电话 2973882、2973305".into(),
            // A fiscal e-receipt of Gansu: the finance department prints its name as 监制单位.
            receipt: ReceiptPolicy {
                heading: "甘肃省非税收入统一票据（电子）".into(),
                authority: "甘肃省财政厅".into(),
                payee: "兰州理工大学".into(),
                collector: "张敏".into(),
                reviewer: "李卫东".into(),
                code_prefix: "620000".into(),
                codes: [("非税收入票据".to_string(), "62060125".to_string())].into(),
                ..ReceiptPolicy::default()
            },
            ..policy(
                vec![LoginId::StudentNo],
                tail(8, ""),
                true,
                vec![
                    Recovery::SecurityQuestion,
                    Recovery::ContactOffice {
                        text: "忘记密码请联系学院电话 2755282 2973633，财务处电话 2973882、2973305".into()
                    },
                ],
                false,
                seq("XF", "LUTAU"),
                &["alipay_qr", "alipay_wap", "wechat_native", "wechat_h5", "unionpay_gateway"],
                "甘肃省财政厅",
            )
        },
        // 2025-2026 has no charges yet: the demo's new term, for demo/lut-fee-standards-2025-2026.xlsx.
        periods: vec![
            ("2023-2024", "2023-2024学年", "2023-2024"),
            ("2024-2025", "2024-2025学年", "2024-2025"),
            ("2025-2026", "2025-2026学年", "2025-2026"),
        ],
        items: vec![
            Item { window: Some((-60, 120, true)), ..item("XF2024", "学费（2024级）", "Tuition", "tuition", "非税收入票据") },
            Item {
                window: Some((-400, -30, false)),
                ..item("XF2023", "学费（2023级补缴）", "Tuition (arrears)", "tuition", "非税收入票据")
            },
            Item { window: Some((-60, 120, true)), ..item("KSF", "考试费", "Exam fee", "exam", "非税收入票据") },
            Item { mandatory: true, ..item("XF", "学费", "Tuition", "tuition", "非税收入票据") },
            item("JCF", "教材费", "Textbooks", "textbook", "非税收入票据"),
        ],
        owed: vec![("XF2024", 1, 3200), ("XF2023", 0, 3200), ("KSF", 1, 150)],
        announcements: vec![
            ("2024-2025学年学费缴纳通知", "请在收费起止时间内完成缴费。请先确认个人信息无误后再进行缴费，避免误交费。"),
            ("收款单位说明", "支付时请确认收款名称为：甘肃省财政厅。"),
        ],
    };
    vec![qdou, ejt, cqjzc, czie, lut]
}

/// (student no, name, gender, first 17 of the ID card, phone)
const STUDENTS: [(&str, &str, &str, &str, &str); 3] = [
    ("20230001", "张晓明", "男", "37020220000101111", "15100008891"),
    ("20230002", "李华", "女", "62010220010315242", "18700006579"),
    ("20230003", "王芳", "女", "50010320020708362", "13900001234"),
];

/// Seeds the demo schools into an empty database; does nothing when any school exists.
pub async fn seed_if_empty(store: &Store) -> Result<bool, StoreError> {
    if !store.schools().await?.is_empty() {
        return Ok(false);
    }
    let now = db_now();
    let mut tx = store.write_tx().await?;
    for (n, d) in schools().into_iter().enumerate() {
        let school_id = store
            .insert_school(&mut tx, &NewSchool { code: d.code, name: d.name, name_en: d.name_en, region: d.region, policy: &d.policy })
            .await?;
        let mut periods = Vec::new();
        for (i, (code, name, year)) in d.periods.iter().enumerate() {
            periods.push(store.insert_period(&mut tx, school_id, code, name, year, i as i64).await?);
        }
        let mut items: Vec<(&str, i64)> = Vec::new();
        for (i, it) in d.items.iter().enumerate() {
            let parent_id = it.parent.and_then(|p| items.iter().find(|(c, _)| *c == p).map(|(_, id)| *id));
            let id = store
                .insert_fee_item(
                    &mut tx,
                    &NewFeeItem {
                        school_id,
                        code: it.code,
                        name: it.name,
                        name_en: it.name_en,
                        category: it.category,
                        receipt_type: it.receipt,
                        mandatory: it.mandatory,
                        parent_id,
                        instalments: it.instalment_min_yuan.is_some(),
                        instalment_min: Fen(it.instalment_min_yuan.unwrap_or(0) * 100),
                        window: it.window.map(|(a, b, _)| (now + a * 86_400, now + b * 86_400)),
                        collecting: it.window.is_none_or(|w| w.2),
                        sort: i as i64,
                    },
                )
                .await?;
            items.push((it.code, id));
        }
        let item_id = |code: &str| items.iter().find(|(c, _)| *c == code).map(|(_, id)| *id).expect("demo item exists");
        for (k, (no, name, gender, id17, phone)) in STUDENTS.iter().enumerate() {
            let id_card = idcard::with_check_char(id17).expect("demo ID numbers have 17 digits");
            let student_id = store
                .insert_student(
                    &mut tx,
                    &NewStudent {
                        school_id,
                        student_no: no,
                        name,
                        gender,
                        id_card: &id_card,
                        // Phones differ per school so that login by phone names one student.
                        phone: &format!("{}{}", &phone[..10], (n + k) % 10),
                        email: "",
                        department: "继续教育学院",
                        major: ["小学教育", "工程造价", "会计"][k],
                        level: "本科(专科起点)",
                        class_name: ["2023级小教1班", "2023级造价2班", "2023级会计1班"][k],
                        enrol_year: 2023,
                    },
                )
                .await?;
            for (code, period, yuan) in &d.owed {
                let total = Fen(yuan * 100);
                // 20230003 has a 20 % discount (助学减免) on the newest period's first item.
                let discount = if k == 2 && *period == 1 && *code == d.owed[0].0 { Fen(yuan * 20) } else { Fen::ZERO };
                let charge_id =
                    store.insert_charge(&mut tx, school_id, student_id, item_id(code), periods[*period], total, discount).await?;
                if k == 1 {
                    store
                        .insert_ledger_entry(
                            &mut tx,
                            &NewLedgerEntry {
                                school_id,
                                student_id,
                                charge_id: Some(charge_id),
                                kind: LedgerKind::OfflinePayment,
                                amount: total,
                                reference: &format!("DEMO-{}-{charge_id}", d.code),
                                memo: COUNTER_MEMO,
                            },
                        )
                        .await?;
                }
            }
        }
        for (i, (title, body)) in d.announcements.iter().enumerate() {
            store.insert_announcement(&mut tx, school_id, title, body, now - 86_400 * (i as i64 + 1)).await?;
        }
        store.audit(&mut tx, Some(school_id), "system", "demo.seed", &format!("demo school {} seeded", d.code)).await?;
    }
    tx.commit().await?;
    seed_accounts(store).await?;
    seed_staff(store).await?;
    seed_counter_records(store).await?;
    Ok(true)
}

/// What the seed's counter payments say in the ledger.
const COUNTER_MEMO: &str = "演示数据：线下已缴";

/// The seed's counter payments (20230002 paid everything offline) recorded as the counter
/// records money — a cash record by the school's cashier for each — with the e-receipt owed:
/// the worker issues it as after any counter payment, so the demo's records show receipts.
async fn seed_counter_records(store: &Store) -> Result<(), StoreError> {
    let rows = store.unrecorded_offline_ledger(COUNTER_MEMO).await?;
    let now = db_now();
    let mut tx = store.write_tx().await?;
    for (school_id, student_id, reference, amount) in rows {
        let Some(cashier) = store.staff_by_login(Some(school_id), DEMO_STAFF[2].0).await? else { continue };
        let new = NewOfflinePayment { school_id, student_id, method: "cash", reference: &reference, total: amount, staff_id: cashier.id };
        let id = store.insert_offline_payment(&mut tx, &new).await?;
        let job = Job::IssueOfflineReceipt { offline_payment_id: id };
        let (kind, payload) = job.encode();
        store.enqueue_job(&mut tx, &kind, &payload, job.queue().as_str(), now, now).await?;
    }
    tx.commit().await
}

/// Every demo school's finance office (login, name, role, password) and the platform's
/// operator, listed in the README.
pub const DEMO_STAFF: [(&str, &str, Role, &str); 4] = [
    ("admin", "校管理员", Role::SchoolAdmin, "Admin#2026"),
    ("finance", "财务人员", Role::Accountant, "Finance#2026"),
    ("cashier", "收费员", Role::Cashier, "Cashier#2026"),
    ("auditor", "审计", Role::Auditor, "Auditor#2026"),
];
pub const DEMO_PLATFORM: (&str, &str) = ("platform", "Platform#2026");

async fn seed_staff(store: &Store) -> Result<(), StoreError> {
    // One hash per password, shared by the schools: seeding stays fast enough for every test.
    let hasher = campuspay_app::crypto::Hasher::new(1);
    let mut hashes = Vec::new();
    for (_, _, _, password) in DEMO_STAFF {
        hashes.push(hasher.hash(password).await);
    }
    let platform_hash = hasher.hash(DEMO_PLATFORM.1).await;
    let mut tx = store.write_tx().await?;
    for school in store.schools().await? {
        for ((login, name, role, _), hash) in DEMO_STAFF.iter().zip(&hashes) {
            let new =
                NewStaff { school_id: Some(school.id), login, name, role: role.as_str(), password_hash: hash, must_change_password: false };
            store.insert_staff(&mut tx, &new).await?;
        }
    }
    let platform = NewStaff {
        school_id: None,
        login: DEMO_PLATFORM.0,
        name: "平台管理员",
        role: Role::PlatformAdmin.as_str(),
        password_hash: &platform_hash,
        must_change_password: false,
    };
    store.insert_staff(&mut tx, &platform).await?;
    tx.commit().await
}

/// ejt's `20230002` has a security e-mail and lut's `20230002` a security question, so that
/// recovery can be tried at once (links and codes land in `/demo/outbox`).
pub const DEMO_SECURITY_EMAIL: &str = "lihua@ejt.example.edu.cn";
pub const DEMO_SECURITY_QUESTION: &str = "您的出生地是？";
pub const DEMO_SECURITY_ANSWER: &str = "兰州";

async fn seed_accounts(store: &Store) -> Result<(), StoreError> {
    for (school, email, question) in [("ejt", true, false), ("lut", false, true)] {
        let Some(s) = store.school_by_code(school).await? else {
            continue;
        };
        let Some(st) = store.student_by_no(s.id, "20230002").await? else {
            continue;
        };
        if email {
            store.write(async |tx| store.set_security_email(tx, s.id, st.id, DEMO_SECURITY_EMAIL).await).await?;
        }
        if question {
            let hash = campuspay_app::crypto::Hasher::new(1).hash(DEMO_SECURITY_ANSWER).await;
            store.write(async |tx| store.set_security_question(tx, s.id, st.id, DEMO_SECURITY_QUESTION, &hash).await).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_id_card_is_valid() {
        assert!(campuspay_domain::idcard::is_valid(super::DEMO_ID_CARD));
        assert_eq!(campuspay_domain::idcard::with_check_char(super::STUDENTS[0].3).as_deref(), Some(super::DEMO_ID_CARD));
    }

    /// The README's demo table is what people log in with: every 18-character ID card in it
    /// must be a seeded student's, with its real check character (it once gave 20230003's
    /// as `…083621`), and every seeded student's ID card must be in it.
    #[test]
    fn readme_demo_id_cards_are_the_seeds() {
        let readme = include_str!("../../../README.md");
        let seeded: Vec<String> =
            super::STUDENTS.iter().map(|s| campuspay_domain::idcard::with_check_char(s.3).expect("17 digits")).collect();
        let chars: Vec<char> = readme.chars().collect();
        let mut found = Vec::new();
        for (i, w) in chars.windows(18).enumerate() {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 18);
            let edge = |c: Option<&char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
            if w[..17].iter().all(char::is_ascii_digit) && (w[17].is_ascii_digit() || w[17] == 'X') && edge(before.as_ref()) && edge(after)
            {
                found.push(w.iter().collect::<String>());
            }
        }
        assert!(!found.is_empty(), "the README lists no ID cards");
        for id in &found {
            assert!(campuspay_domain::idcard::is_valid(id), "README: {id} has a wrong check character");
            assert!(seeded.contains(id), "README: {id} is no seeded student's ID card");
        }
        for id in &seeded {
            assert!(found.contains(id), "README: the seeded ID card {id} is missing");
        }
    }
}
