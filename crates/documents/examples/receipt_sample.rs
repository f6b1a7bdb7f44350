//! Writes a sample receipt PDF (the lut demo school's form) to the path given, for looking at:
//! `cargo run -p campuspay-documents --example receipt_sample -- /tmp/receipt.pdf`.

use campuspay_documents::Fen;
use campuspay_documents::receipt_pdf::{ReceiptDoc, ReceiptDocLine, render_receipt};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "receipt.pdf".into());
    let doc = ReceiptDoc {
        heading: "甘肃省非税收入统一票据（电子）".into(),
        authority: "甘肃省财政厅".into(),
        code: "62060125".into(),
        number: "0000000042".into(),
        check_code: "3FA9C01B7D22".into(),
        issued_date: "2026-12-04".into(),
        payer: "兰州某某科技有限公司".into(),
        payer_credit_code: "91350100M000100Y43".into(),
        lines: vec![
            ReceiptDocLine { code: "XF2024".into(), name: "学费（2024级）".into(), amount: Fen(300_000) },
            ReceiptDocLine { code: "KSF".into(), name: "考试费".into(), amount: Fen(20_000) },
        ],
        total: Fen(320_000),
        payee: "兰州理工大学".into(),
        order_no: "XF261204LUTAU000001".into(),
        channel: "微信支付".into(),
        txn_id: "4200001234202612040000000001".into(),
        collector: "张敏".into(),
        reviewer: "李卫东".into(),
        verify_url: "http://127.0.0.1:8080/receipts/verify?code=62060125&number=0000000042&check_code=3FA9C01B7D22".into(),
        ..ReceiptDoc::default()
    };
    let pdf = render_receipt(&doc).expect("render");
    std::fs::write(&path, &pdf).expect("write");
    println!("{path}: {} bytes", pdf.len());
}
