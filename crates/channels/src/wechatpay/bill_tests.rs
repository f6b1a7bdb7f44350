use super::*;

/// The sample trade bill (ALL) that WeChat publishes with its mini-program cloud payment docs
/// (下载对账单, `respdata`): the current 27-column layout. Its summary counts 12 lines of a
/// longer day, of which the sample shows one.
const PUBLISHED_ALL: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2022-03-21 13:51:31,`wxfdc955f7104ad557,`180023671,`176531292,`,`420000612032130748613220688,`2021WERUN1647840687637,`oZWaCKXip5njeEiloC4oeOV1TTsk,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`微信云托管支付测试,`,`0.00000,`0.90%,`0.01,`0.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`12,`0.06,`0.06,`0.00,`0.00000,`0.06,`0.06
";

/// The example of the (older, 24-column) layout in WeChat Pay's v2 `downloadbill` docs.
const PUBLISHED_LEGACY: &str = "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率
`2014-11-10 16:33:45,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1001690740201411100005734289,`1415640626,`085e9858e3ba5186aafcbaed1,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`0.01,`0.0,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0,`0.60%
`2014-11-10 16:46:14,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1002780740201411100005729794,`1415635270,`085e9858e90ca40c0b5aee463,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`0.01,`0.0,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0,`0.60%
总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额
`2,`0.02,`0.0,`0.0,`0
";

#[test]
fn parses_the_published_all_sample() {
    let s = parse("2022-03-21", PUBLISHED_ALL).unwrap();
    assert_eq!(s.lines.len(), 1);
    let l = &s.lines[0];
    assert_eq!(l.out_trade_no, "2021WERUN1647840687637");
    assert_eq!(l.transaction_id, "420000612032130748613220688");
    assert_eq!((l.kind, l.amount), (StatementKind::Payment, Fen(1)));
    assert_eq!(l.time, "2022-03-21 13:51:31");
    assert_eq!((l.out_refund_no.as_deref(), l.refund_id.as_deref()), (None, None));
    assert_eq!(l.subject.as_deref(), Some("微信云托管支付测试"));
    let d = s.declared.unwrap();
    assert_eq!((d.count, d.payment_amount, d.refund_amount), (Some(12), Some(Fen(6)), Some(Fen(6))));
    // The sample is an excerpt: its summary counts lines it does not show.
    assert!(matches!(s.check_totals(), Err(ChannelError::Malformed(_))));
}

#[test]
fn parses_the_published_legacy_sample_by_column_name() {
    let s = parse("2014-11-10", PUBLISHED_LEGACY).unwrap();
    assert_eq!(s.lines.iter().map(|l| l.out_trade_no.as_str()).collect::<Vec<_>>(), ["1415640626", "1415635270"]);
    assert!(s.lines.iter().all(|l| l.amount == Fen(1) && l.kind == StatementKind::Payment));
    assert_eq!(s.declared.unwrap().payment_amount, Some(Fen(2)));
    s.check_totals().unwrap();
}

fn sample_lines() -> Vec<RenderLine<'static>> {
    let base = RenderLine {
        time: "2024-09-01 10:00:00",
        appid: "wx0000000000000001",
        mchid: "1900000001",
        transaction_id: "4200000000202409010000000001",
        out_trade_no: "CP2024090100001",
        openid: "oSandbox",
        trade_type: "NATIVE",
        subject: "2024学年学费,住宿费",
        amount: 500_000,
        refund: None,
    };
    vec![base, RenderLine { time: "2024-09-01 11:30:00", refund: Some(("50300000001", "RF1", 12_345)), ..base }]
}

#[test]
fn rendered_bills_round_trip_with_a_refund_and_a_comma_in_a_name() {
    let text = render(&sample_lines());
    let s = parse("2024-09-01", &text).unwrap();
    s.check_totals().unwrap();
    assert_eq!(s.lines.len(), 2);
    assert_eq!(s.lines[0].subject.as_deref(), Some("2024学年学费,住宿费"));
    let r = &s.lines[1];
    assert_eq!((r.kind, r.amount, r.out_trade_no.as_str()), (StatementKind::Refund, Fen(12_345), "CP2024090100001"));
    assert_eq!((r.out_refund_no.as_deref(), r.refund_id.as_deref()), (Some("RF1"), Some("50300000001")));
    assert_eq!(s.raw, text);
}

#[test]
fn hashes_are_checked() {
    let text = render(&sample_lines());
    let loc = |hash: String, kind: &str| BillLocation { download_url: "u".into(), hash_type: kind.into(), hash_value: hash };
    verify_hash(text.as_bytes(), &loc(sha1_hex(text.as_bytes()).to_uppercase(), "SHA1")).unwrap();
    let tampered = text.replace("5000.00", "5000.01");
    assert!(matches!(verify_hash(tampered.as_bytes(), &loc(sha1_hex(text.as_bytes()), "SHA1")), Err(ChannelError::BadSignature)));
    assert!(matches!(verify_hash(text.as_bytes(), &loc(sha1_hex(text.as_bytes()), "MD5")), Err(ChannelError::Unsupported(_))));
    // The published example pair: SHA1 of the empty string is da39a3ee….
    assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

#[test]
fn malformed_bills_are_refused_clearly() {
    let good = render(&sample_lines());
    let cases = [
        ("", "为空"),
        ("`2024-09-01 10:00:00,`x\n", "表头"),
        (&good.replacen("商户订单号", "订单号X", 1) as &str, "商户订单号"),
        (&good.replacen("`SUCCESS", "`WAT", 1), "交易状态"),
        (&good.replacen("`0.60%,`5000.00", "`0.60%,`5000.001", 1), "金额"),
        (&good.replacen(",`NATIVE", "", 1), "字段"),
        (&good.replacen("`2,`", "`x,`", 1), "总交易单数"),
        (&format!("{good}extra\n"), "之后"),
    ];
    for (text, needle) in cases {
        match parse("2024-09-01", text) {
            Err(ChannelError::Malformed(m)) => assert!(m.contains(needle), "{m} should mention {needle}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }
    assert!(matches!(parse("2024-9-1", &good), Err(ChannelError::Malformed(_))));
}

#[test]
fn the_whole_path_after_the_host_is_what_gets_signed() {
    // The signing rule: the absolute URL minus scheme and host, prefix and query included.
    assert_eq!(
        url_path("http://127.0.0.1:9/sandbox/wechatpay/v3/billdownload/file?token=t").unwrap(),
        "/sandbox/wechatpay/v3/billdownload/file?token=t"
    );
    assert_eq!(url_path("https://api.mch.weixin.qq.com/v3/billdownload/file?token=x").unwrap(), "/v3/billdownload/file?token=x");
    assert!(url_path("no-scheme").is_err());
    assert!(url_path("https://host.only").is_err());
    assert_eq!(tradebill_path("2024-09-01").unwrap(), "/v3/bill/tradebill?bill_date=2024-09-01&bill_type=ALL&tar_type=GZIP");
}

#[test]
fn a_gzipped_bill_inflates_to_the_bill_and_garbage_is_refused() {
    let bill = PUBLISHED_ALL.as_bytes();
    let z = gzip(bill);
    assert_eq!(&z[..2], &[0x1f, 0x8b], "a gzip member");
    assert_eq!(gunzip(&z).unwrap(), bill);
    assert!(matches!(gunzip(b"not gzip"), Err(ChannelError::Malformed(_))));
    assert!(matches!(gunzip(&z[..z.len() - 8]), Err(ChannelError::Malformed(_))), "cut short");
}

#[test]
fn a_bill_read_line_by_line_from_gzip_is_the_parsed_bill_with_its_fees() {
    use crate::statement::{BillBody, StatementFile};
    let text = render(&sample_lines()).replacen("0.00000", "3.00001", 1);
    let z = gzip(text.as_bytes());
    let loc = BillLocation { download_url: "u".into(), hash_type: "SHA1".into(), hash_value: sha1_hex(text.as_bytes()) };
    verify_hash_streamed(&z, &loc).unwrap();
    verify_hash_streamed(text.as_bytes(), &loc).unwrap();
    let tampered = gzip(text.replace("5000.00", "5000.01").as_bytes());
    assert!(matches!(verify_hash_streamed(&tampered, &loc), Err(ChannelError::BadSignature)));
    assert!(matches!(verify_hash_streamed(&z[..z.len() - 8], &loc), Err(ChannelError::Malformed(_))), "cut short");

    let parsed = parse("2024-09-01", &text).unwrap();
    let file = StatementFile::WechatTradeBill { date: "2024-09-01".into(), body: BillBody::Bytes(z) };
    let mut lines = file.lines().unwrap();
    let mut read = Vec::new();
    while let Some(l) = lines.next_line().unwrap() {
        read.push(l);
    }
    lines.check_totals().unwrap();
    assert_eq!(lines.fees_per_line(), Some(true));
    assert_eq!(read.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(), parsed.lines);
    assert_eq!(read.iter().map(|(_, fee)| *fee).collect::<Vec<_>>(), [Some(300_001), Some(0)], "1/100,000 yuan");

    // The summary is checked once the last line has been read.
    let doctored = text.replacen("\r\n`2,`", "\r\n`3,`", 1);
    let file = StatementFile::WechatTradeBill { date: "2024-09-01".into(), body: BillBody::Bytes(doctored.into_bytes()) };
    let mut lines = file.lines().unwrap();
    while lines.next_line().unwrap().is_some() {}
    assert!(matches!(lines.check_totals(), Err(ChannelError::Malformed(m)) if m.contains("笔数")));
}
