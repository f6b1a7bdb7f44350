use super::*;
use crate::statement::{encode_gbk, zip_archive};

/// A detail file in the shape Alipay serves (its published column header, `#` comment lines,
/// trailing tabs, negative refund rows, the two `合计` footers). Alipay publishes its sample as
/// a downloadable zip rather than as text, so these rows are ours.
const DETAIL: &str = "#支付宝业务明细查询\r
#账号：[20880000000000000156]\r
#起始日期：[2024年09月01日 00:00:00]   终止日期：[2024年09月02日 00:00:00]\r
#-----------------------------------------业务明细列表----------------------------------------\r
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r
2024090122001400000000000001\t,CP2024090100001\t,交易\t,2024学年学费,2024-09-01 10:00:00,2024-09-01 10:00:09,\t,\t,\t,\t,*三(san***@example.com)\t,5000.00,5000.00,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,\t,0.00,0.00,\r
2024090122001400000000000001\t,CP2024090100001\t,退款\t,2024学年学费,2024-09-01 10:00:00,2024-09-01 15:20:00,\t,\t,\t,\t,*三(san***@example.com)\t,-123.45,-123.45,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,RF20240901001\t,0.00,0.00,\r
2024090122001400000000000002\t,CP2024090100002\t,交易\t,\"住宿费,2024学年\",2024-09-01 11:00:00,2024-09-01 11:00:30,\t,\t,\t,\t,*四(si***@example.com)\t,1200,1200,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,\t,0.00,0.00,\r
#-----------------------------------------业务明细列表结束------------------------------------\r
#交易合计：2笔，商家实收共6200.00元，商家优惠共0.00元\r
#退款合计：1笔，商家实收退款共-123.45元，商家优惠退款共0.00元\r
#导出时间：[2024年09月02日 09:12:30]\r
";

const SUMMARY: &str = "#支付宝业务汇总查询\r\n#账号：[20880000000000000156]\r\n门店编号,门店名称,交易订单总笔数\r\n";

fn zipped(detail: &str) -> Vec<u8> {
    // The summary first: members are told apart by their first line, whatever their names.
    zip_archive(&[
        ("20880000000000000156_20240901_业务明细(汇总).csv".into(), encode_gbk(SUMMARY)),
        ("20880000000000000156_20240901_业务明细.csv".into(), encode_gbk(detail)),
    ])
    .unwrap()
}

#[test]
fn parses_a_gbk_zip_with_payments_a_refund_and_chinese_fields() {
    let s = parse_zip("2024-09-01", &zipped(DETAIL)).unwrap();
    assert_eq!(s.provider, Provider::Alipay);
    assert_eq!(s.lines.len(), 3);
    let (p, r, q) = (&s.lines[0], &s.lines[1], &s.lines[2]);
    assert_eq!((p.kind, p.amount, p.out_trade_no.as_str()), (StatementKind::Payment, Fen(500_000), "CP2024090100001"));
    assert_eq!(p.transaction_id, "2024090122001400000000000001");
    assert_eq!(p.time, "2024-09-01 10:00:09");
    assert_eq!(p.subject.as_deref(), Some("2024学年学费"));
    assert_eq!(p.out_refund_no, None);
    assert_eq!((r.kind, r.amount, r.out_refund_no.as_deref()), (StatementKind::Refund, Fen(12_345), Some("RF20240901001")));
    assert_eq!(r.time, "2024-09-01 15:20:00");
    assert_eq!((q.amount, q.subject.as_deref()), (Fen(120_000), Some("住宿费,2024学年")));
    assert_eq!(s.declared.unwrap().count, Some(3));
    s.check_totals().unwrap();
    assert!(s.raw.starts_with(DETAIL_TITLE));
}

#[test]
fn rendered_details_round_trip() {
    let rows = [
        DetailRow {
            trade_no: "T1",
            out_trade_no: "O1",
            subject: "学费",
            created: "2024-09-01 10:00:00",
            finished: "2024-09-01 10:00:01",
            amount: 1,
            out_request_no: "",
        },
        DetailRow {
            trade_no: "T1",
            out_trade_no: "O1",
            subject: "学费",
            created: "2024-09-01 10:00:00",
            finished: "2024-09-01 12:00:00",
            amount: -1,
            out_request_no: "R1",
        },
    ];
    let text = render_detail("2088", "2024-09-01", "2024年09月02日 09:00:00", &rows);
    let s = parse_detail("2024-09-01", &text).unwrap();
    assert_eq!(s.lines.iter().map(|l| (l.kind, l.amount.0)).collect::<Vec<_>>(), [(StatementKind::Payment, 1), (StatementKind::Refund, 1)]);
    assert_eq!(s.lines[1].out_refund_no.as_deref(), Some("R1"));
}

#[test]
fn malformed_files_are_refused_clearly() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not a zip".to_vec(), "压缩包"),
        (zip_archive(&[("a.csv".into(), encode_gbk(SUMMARY))]).unwrap(), "没有支付宝业务明细"),
        (zip_archive(&[("a.csv".into(), vec![0xB2, 0xFF, 0x81])]).unwrap(), "GBK"),
        (zipped(&DETAIL.replace(",交易\t,2024", ",转账\t,2024")), "业务类型"),
        (zipped(&DETAIL.replace("5000.00,5000.00", "5000.0.0,5000.00")), "金额"),
        (zipped(&DETAIL.replace("-123.45,-123.45", "123.45,-123.45")), "符号"),
        (zipped(&DETAIL.replace("交易合计：2笔", "交易合计：3笔")), "交易合计"),
        (zipped(&DETAIL.replace("共-123.45元", "共-1.00元")), "退款合计"),
        (zipped(&DETAIL.replace(",备注", "")), "字段"),
        (zipped(&DETAIL.replace("商户订单号,", "订单号,")), "商户订单号"),
    ];
    for (bytes, needle) in cases {
        match parse_zip("2024-09-01", &bytes) {
            Err(ChannelError::Malformed(m)) => assert!(m.contains(needle), "{m} should mention {needle}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }
}

#[test]
fn the_download_url_query() {
    assert_eq!(query_biz("2024-09-01").unwrap()["bill_type"], "trade");
    assert!(query_biz("2024/09/01").is_err());
    let node = r#"{"code":"10000","msg":"Success","bill_download_url":"http://x/d?token=1"}"#;
    assert_eq!(parse_download_url(node).unwrap(), "http://x/d?token=1");
    let err = r#"{"code":"40004","msg":"Business Failed","sub_code":"isp.bill_not_exist","sub_msg":"账单不存在"}"#;
    assert!(matches!(parse_download_url(err), Err(ChannelError::Provider { code, .. }) if code == "isp.bill_not_exist"));
}
