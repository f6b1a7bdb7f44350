use super::*;
use crate::statement::zip_archive;
use campuspay_domain::Fen;

const MER: &str = "777290058110097";

fn payment(order_id: &str, query_id: &str, fen: &str, time: &str) -> Vec<u8> {
    render_zm_line(&[
        (field::CODE, "S22"),
        (field::TIME, time),
        (field::AMOUNT, fen),
        (field::QUERY_ID, query_id),
        (field::ORDER_ID, order_id),
        (field::TXN_TYPE, "01"),
        (field::MER_ID, MER),
        // GBK text in a fixed-width field: widths count bytes, not characters.
        (field::SUB_MER_ABBR, "北京某某大学财务处学费专用账户收款"),
    ])
}

fn refund() -> Vec<u8> {
    render_zm_line(&[
        (field::CODE, "S30"),
        (field::TIME, "0901153000"),
        (field::AMOUNT, "000000012345"),
        (field::QUERY_ID, "202409011700000200001"),
        (field::ORDER_ID, "RF20240901001"),
        (field::TXN_TYPE, "04"),
        (field::ORIG_QUERY_ID, "202409011600000100001"),
        (field::MER_ID, MER),
        (field::ORIG_ORDER_ID, "CP2024090100001"),
    ])
}

fn zm() -> Vec<u8> {
    [payment("CP2024090100001", "202409011600000100001", "000000500000", "0901100009"), refund()].concat()
}

fn answer(zip: &[u8]) -> Params {
    let mut p = Params::new();
    p.insert("respCode".into(), "00".into());
    p.insert("fileName".into(), "777290058110097_20240901.zip".into());
    p.insert("fileContent".into(), file_content(zip).unwrap());
    p
}

#[test]
fn lines_are_cut_by_byte_width_and_read() {
    let line = payment("X", "Q", "000000000001", "0901000000");
    assert_eq!(line.len(), ZM_WIDTHS.iter().sum::<usize>() + ZM_WIDTHS.len() + 1);
    let s = parse_zm("2024-09-01", &zm(), MER).unwrap();
    assert_eq!(s.lines.len(), 2);
    let p = &s.lines[0];
    assert_eq!((p.kind, p.amount, p.out_trade_no.as_str()), (StatementKind::Payment, Fen(500_000), "CP2024090100001"));
    assert_eq!((p.transaction_id.as_str(), p.time.as_str()), ("202409011600000100001", "2024-09-01 10:00:09"));
    let r = &s.lines[1];
    assert_eq!((r.kind, r.amount, r.out_trade_no.as_str()), (StatementKind::Refund, Fen(12_345), "CP2024090100001"));
    assert_eq!(r.transaction_id, "202409011600000100001");
    assert_eq!((r.out_refund_no.as_deref(), r.refund_id.as_deref()), (Some("RF20240901001"), Some("202409011700000200001")));
    assert!(s.raw.contains("北京某某大学财务处学费专用账户"));
}

#[test]
fn the_answer_is_base64_zlib_zip_holding_the_zm_member() {
    let zip =
        zip_archive(&[("INN24090188ZME_777290058110097".into(), Vec::new()), ("INN24090188ZM_777290058110097".into(), zm())]).unwrap();
    let s = parse_answer("2024-09-01", &answer(&zip), MER).unwrap();
    assert_eq!(s.lines.len(), 2);
    assert_eq!(settle_date("2024-09-01").unwrap(), "0901");
}

#[test]
fn a_december_line_in_a_january_file_is_last_year() {
    let s = parse_zm("2025-01-01", &payment("O1", "Q1", "000000000100", "1231235959"), MER).unwrap();
    assert_eq!(s.lines[0].time, "2024-12-31 23:59:59");
}

#[test]
fn malformed_files_are_refused_clearly() {
    let zm_cases: Vec<(Vec<u8>, &str)> = vec![
        (zm()[..200].to_vec(), "不足"),
        (payment("O1", "Q1", "00000000x100", "0901000000"), "txnAmt"),
        (payment("O1", "Q1", "000000000100", "0931000000"), "交易传输时间"),
        (payment("O1", "", "000000000100", "0901000000"), "查询流水号"),
        (render_zm_line(&[(field::TIME, "0901000000"), (field::AMOUNT, "1"), (field::TXN_TYPE, "02"), (field::MER_ID, MER)]), "交易类型"),
        ([b"S22 x".as_slice(), &[b'0'; 400]].concat(), "空格"),
    ];
    for (bytes, needle) in zm_cases {
        match parse_zm("2024-09-01", &bytes, MER) {
            Err(ChannelError::Malformed(m)) => assert!(m.contains(needle), "{m} should mention {needle}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }
    assert!(matches!(parse_zm("2024-09-01", &zm(), "898000000000001"), Err(ChannelError::WrongMerchant(_))));
    let mut bad = answer(b"");
    bad.insert("fileContent".into(), "%%%".into());
    let no_zm = zip_archive(&[("INN24090188ZME_1".into(), Vec::new())]).unwrap();
    let mut not_zlib = answer(b"");
    not_zlib.insert("fileContent".into(), crate::crypto::b64_encode(b"plain"));
    for (p, needle) in [(bad, "Base64"), (answer(&no_zm), "ZM"), (not_zlib, "解压"), (answer(b"not a zip"), "压缩包")] {
        match parse_answer("2024-09-01", &p, MER) {
            Err(ChannelError::Malformed(m)) => assert!(m.contains(needle), "{m} should mention {needle}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }
    let mut refused = Params::new();
    refused.insert("respCode".into(), "98".into());
    assert!(matches!(parse_answer("2024-09-01", &refused, MER), Err(ChannelError::Provider { .. })));
}
