use super::*;
use std::process::Command;

pub(crate) fn sample() -> ReceiptDoc {
    ReceiptDoc {
        heading: "甘肃省非税收入统一票据（电子）".into(),
        authority: "甘肃省财政厅".into(),
        code: "62060125".into(),
        number: "0000000042".into(),
        check_code: "3FA9C01B7D22".into(),
        issued_date: "2026-12-04".into(),
        payer: "张三".into(),
        payer_credit_code: String::new(),
        lines: vec![
            ReceiptDocLine { code: "XF2024".into(), name: "学费（2024级）".into(), amount: Fen(300_000) },
            ReceiptDocLine { code: "KSF".into(), name: "考试费".into(), amount: Fen(20_000) },
        ],
        total: Fen(320_000),
        payee: "兰州理工大学".into(),
        payee_credit_code: String::new(),
        order_no: "XF261204LUTAU000001".into(),
        channel: "微信支付".into(),
        txn_id: "4200001234202612040000000001".into(),
        collector: "张敏".into(),
        reviewer: "李卫东".into(),
        verify_url: "http://127.0.0.1:8080/receipts/verify?code=62060125&number=0000000042&check_code=3FA9C01B7D22".into(),
        red_letter_of: String::new(),
        stamp: String::new(),
    }
}

/// `pdftotext -layout` of `pdf`, spaces removed (poppler-utils is a test requirement: .ci/run
/// installs it, and a missing one fails here rather than passing unchecked).
pub(crate) fn text_of(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("campuspay-receipt-{}-{:?}.pdf", std::process::id(), std::thread::current().id()));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().expect("pdftotext (apt-get install poppler-utils)");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().replace([' ', '\u{3000}'], "")
}

#[test]
fn the_receipt_is_small_and_its_chinese_text_extracts() {
    let pdf = render_receipt(&sample()).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert!(pdf.len() < 200 * 1024, "{} bytes", pdf.len());
    let text = text_of(&pdf);
    for want in [
        "甘肃省非税收入统一票据（电子）",
        "甘肃省财政厅",
        "张三",
        "学费（2024级）",
        "考试费",
        "叁仟贰佰元整",
        "0000000042",
        "62060125",
        "3000.00",
        "3200.00",
        "兰州理工大学",
        "XF261204LUTAU000001",
        "李卫东",
        "张敏",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

#[test]
fn the_font_covers_the_form_wording() {
    assert!(covers(
        "甘肃省非税收入统一票据（电子）监制单位：票据代码号码校验码开票日期交款人统一社会信用代码项目编码名称金额（元）合计大写小写¥订单号支付方式交易流水冲红原收款单位章复核人已作废其他项"
    ));
    assert!(covers("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整负0123456789.-ABCXYZabcxyz…"));
}

#[test]
fn a_red_letter_receipt_says_what_it_reverses() {
    let doc = ReceiptDoc { total: Fen(-320_000), red_letter_of: "62060125 0000000042".into(), number: "0000000043".into(), ..sample() };
    let text = text_of(&render_receipt(&doc).unwrap());
    assert!(text.contains("红字票据"), "{text}");
    assert!(text.contains("负叁仟贰佰元整"), "{text}");
    assert!(text.contains("冲红原票据：620601250000000042"), "{text}");
}

#[test]
fn many_lines_keep_the_form_and_the_total() {
    let lines = (0..12).map(|i| ReceiptDocLine { code: format!("X{i}"), name: format!("项目{i}"), amount: Fen(100) }).collect();
    let doc = ReceiptDoc { lines, total: Fen(1_200), ..sample() };
    let text = text_of(&render_receipt(&doc).unwrap());
    assert!(text.contains("其他7项"), "{text}");
    assert!(text.contains("7.00"), "{text}");
    assert!(text.contains("壹拾贰元整"), "{text}");
}
