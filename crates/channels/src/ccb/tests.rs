//! Fixed vectors computed outside our code from the published field orders: the MACs with
//! Python's hashlib, the signatures with `openssl dgst -md5 -sign` under a 1024-bit key made by
//! `openssl genrsa 1024` (its public half below as the hex DER CCB hands out).

use super::api::{self, QueryOrder};
use super::sign::{self, CcbPublicKey};
use super::{Ccb, CcbConfig};
use crate::{ChannelError, CreateOrder, PayAction, PayFlow, PaymentChannel, ProviderStatus};
use campuspay_domain::Fen;

const PUB_HEX: &str = "30819f300d06092a864886f70d010101050003818d0030818902818100e272ef12400667f6ff06c854543bb2da2c5ca20df45a59ecfaf215743fa2b22f276329f7737c50dc24ddca97e6535d00c4044a49f30c6d0f19af529469a393068a63272c55ccd4238e1341a4253cabf2d798a97e65f45c89fe5be175755ba06e1c864a1bb808de770b4c5b050baa7e4006b98228df6325feca3d17586a8b55290203010001";

/// Over `POSID=123456789&BRANCHID=442000000&ORDERID=XF261204CZIE00000101&PAYMENT=2400.00&CURCODE=01&REMARK1=&REMARK2=&ACC_TYPE=12&SUCCESS=Y&TYPE=1&REFERER=&CLIENTIP=&ACCDATE=20261204`.
const SIGN: &str = "75c32dfff116fba3c7b232068fa446f0ca738b3aa7b6e4129d90efcfb657dd944e0fbe603c301c708ca193316f4b04b5b0e1f4cb303f676824d218feda645e2980fc069d37bc58c0b8529860c454aca0f56cbda9ba9e59b7eee5dc650fb728ef330608c487fb089a41555663aa33d63500b428208e76620f3372d14b83d58353";

/// The same plus `&USRMSG=张三`, signed as GBK bytes (zhongliudizhu's tail).
const SIGN_USRMSG: &str = "2182d5994a6817ba1caeeacbf5a8f6644638a78f2f6d1bbf1ed53f0409d2aec2ac449da0af5ba607566532d8f1bdb3b93c97c55b517cfb2e21dae4ba525c701f5b42e3b191b1246947fce66de729f49c1cd488ef2064954acfef071c3f756109b6c225622e38a2b975e23925353606bfb27b0fdf48287773ae5684afe06f5984";

const ORDER: &str = "XF261204CZIE00000101";

fn config() -> CcbConfig {
    CcbConfig {
        merchant_id: "105000000000001".into(),
        pos_id: "123456789".into(),
        branch_id: "442000000".into(),
        ccb_public_key_hex: PUB_HEX.into(),
        gateway_url: super::DEFAULT_GATEWAY_URL.into(),
        query_url: None,
        operator: "000001".into(),
        query_password: "secret-pwd".into(),
        ebs_addr: String::new(),
        ebs_cust_id: String::new(),
        ebs_user_id: String::new(),
        ebs_password: String::new(),
    }
}

fn notice(extra: &[(&str, &str)], sign: &str) -> Vec<u8> {
    let mut pairs = vec![
        ("POSID", "123456789"),
        ("BRANCHID", "442000000"),
        ("ORDERID", ORDER),
        ("PAYMENT", "2400.00"),
        ("CURCODE", "01"),
        ("REMARK1", ""),
        ("REMARK2", ""),
        ("ACC_TYPE", "12"),
        ("SUCCESS", "Y"),
        ("TYPE", "1"),
        ("REFERER", ""),
        ("CLIENTIP", ""),
        ("ACCDATE", "20261204"),
    ];
    pairs.extend_from_slice(extra);
    pairs.push(("SIGN", sign));
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

#[test]
fn pub_is_the_last_30_hex_characters_of_the_key() {
    assert_eq!(sign::pub30(PUB_HEX).unwrap(), "25feca3d17586a8b55290203010001");
}

#[test]
fn the_order_mac_follows_the_published_order_with_pub_after_type() {
    let form = api::order_form(&config(), ORDER, Fen(240_000), "").unwrap();
    assert_eq!(form["MAC"], "f62a41ff8a7f99960e0d316b465bc797");
    assert_eq!(form["TXCODE"], "520100");
    assert_eq!(form["PAYMENT"], "2400.00");
    assert_eq!(form["TYPE"], "1");
    assert!(!form.contains_key("PUB"), "PUB is never sent");
    assert!(!form.contains_key("REMARK1") && !form.contains_key("GATEWAY"), "blank fields stay out of the form");
}

#[test]
fn the_query_mac_leaves_qupwd_empty_but_sends_it() {
    let form = api::query_form(&config(), ORDER, false).unwrap();
    assert_eq!(form["MAC"], "9eff7c88b2f1806f9bf9cea0952be2b5");
    assert_eq!(form["QUPWD"], "secret-pwd");
}

#[test]
fn a_notification_signed_by_ccb_verifies_and_parses() {
    let ccb = Ccb::new(config()).unwrap();
    let n = ccb.verify_notification(&Default::default(), &notice(&[], SIGN), 0).unwrap();
    assert_eq!(n.out_trade_no, ORDER);
    assert_eq!(n.transaction_id, ORDER);
    assert_eq!(n.amount, Fen(240_000));
    assert!(n.paid);
    // The GBK tail of zhongliudizhu's list, sent as GBK percent-escapes.
    let (gbk, _, _) = encoding_rs::GBK.encode("张三");
    let mut body = notice(&[], SIGN_USRMSG);
    let escaped: String = gbk.iter().map(|b| format!("%{b:02X}")).collect();
    body.extend_from_slice(format!("&USRMSG={escaped}").as_bytes());
    assert!(ccb.verify_notification(&Default::default(), &body, 0).unwrap().paid);
}

#[test]
fn a_changed_field_or_a_foreign_merchant_is_refused() {
    let ccb = Ccb::new(config()).unwrap();
    let tampered = String::from_utf8(notice(&[], SIGN)).unwrap().replace("PAYMENT=2400.00", "PAYMENT=1.00");
    assert!(matches!(ccb.verify_notification(&Default::default(), tampered.as_bytes(), 0), Err(ChannelError::BadSignature)));
    let unsigned = String::from_utf8(notice(&[], "")).unwrap();
    assert!(matches!(ccb.verify_notification(&Default::default(), unsigned.as_bytes(), 0), Err(ChannelError::BadSignature)));
    let mut other = config();
    other.pos_id = "987654321".into();
    let err = Ccb::new(other).unwrap().verify_notification(&Default::default(), &notice(&[], SIGN), 0).unwrap_err();
    assert!(matches!(err, ChannelError::WrongMerchant(_)), "{err:?}");
}

#[test]
fn the_key_verifies_directly() {
    let key = CcbPublicKey::from_hex(PUB_HEX).unwrap();
    let m = "POSID=123456789&BRANCHID=442000000&ORDERID=XF261204CZIE00000101&PAYMENT=2400.00&CURCODE=01&REMARK1=&REMARK2=&ACC_TYPE=12&SUCCESS=Y&TYPE=1&REFERER=&CLIENTIP=&ACCDATE=20261204";
    key.verify_hex(m, SIGN).unwrap();
    key.verify_hex(m, &SIGN.to_uppercase()).unwrap();
    assert!(key.verify_hex(&m.replace("SUCCESS=Y", "SUCCESS=N"), SIGN).is_err());
}

#[tokio::test]
async fn create_is_the_520100_form_to_the_gateway() {
    let ccb = Ccb::new(config()).unwrap();
    let order = CreateOrder {
        out_trade_no: ORDER.into(),
        description: "学费".into(),
        amount: Fen(240_000),
        expires_at: None,
        flow: PayFlow::Page,
        return_url: None,
    };
    let PayAction::Form { action, fields } = ccb.create(&order).await.unwrap() else { panic!("a form") };
    assert_eq!(action, super::DEFAULT_GATEWAY_URL);
    assert_eq!(fields["MAC"], "f62a41ff8a7f99960e0d316b465bc797");
    let too_long = CreateOrder { out_trade_no: "1".repeat(31), ..order };
    assert!(matches!(ccb.create(&too_long).await, Err(ChannelError::Malformed(_))));
}

#[test]
fn config_checks_ids_and_key() {
    let mut c = config();
    c.merchant_id = "12345".into();
    assert!(Ccb::new(c).is_err());
    let mut c = config();
    c.ccb_public_key_hex = "zz".into();
    assert!(Ccb::new(c).is_err());
}

#[test]
fn the_query_answer_maps_status_codes() {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DOCUMENT><RETURN_CODE>000000</RETURN_CODE><RETURN_MSG></RETURN_MSG>         <QUERYORDER><MERCHANTID>105000000000001</MERCHANTID><BRANCHID>442000000</BRANCHID><POSID>123456789</POSID>         <ORDERID>{ORDER}</ORDERID><ORDERDATE>20261204101010</ORDERDATE><ACCDATE>20261204</ACCDATE><AMOUNT>2400.00</AMOUNT>         <STATUSCODE>1</STATUSCODE><STATUS>成功</STATUS><REFUND>0.00</REFUND><SIGN></SIGN></QUERYORDER></DOCUMENT>"
    );
    let orders = api::parse_query_answer(&body).unwrap();
    assert_eq!(
        orders[0],
        QueryOrder {
            merchant_id: "105000000000001".into(),
            pos_id: "123456789".into(),
            order_id: ORDER.into(),
            amount: Fen(240_000),
            status_code: "1".into(),
            status: "成功".into(),
            acc_date: "20261204".into(),
        }
    );
    let c = config();
    assert!(matches!(api::status_of(&orders, &c, ORDER), Some(ProviderStatus::Paid { amount: Fen(240_000), .. })));
    assert_eq!(api::status_of(&orders, &c, "OTHER"), None);
    let err =
        api::parse_query_answer("<DOCUMENT><RETURN_CODE>YBLA01</RETURN_CODE><RETURN_MSG>密码错误</RETURN_MSG></DOCUMENT>").unwrap_err();
    assert!(matches!(err, ChannelError::Provider { ref code, .. } if code == "YBLA01"));
}

#[test]
fn the_ebs_refund_document_and_answer() {
    use super::ebs;
    let login = ebs::EbsLogin { cust_id: "105000000000001".into(), user_id: "WLPT01".into(), password: "p&w".into() };
    let x = ebs::refund_request(&login, "261204101010123", ORDER, Fen(1_050));
    assert!(x.contains("<TX_CODE>5W1004</TX_CODE>"));
    assert!(x.contains(
        "<TX_INFO><MONEY>10.50</MONEY><ORDER>XF261204CZIE00000101</ORDER><SIGN_INFO></SIGN_INFO><SIGNCERT></SIGNCERT></TX_INFO>"
    ));
    assert!(x.contains("<PASSWORD>p&amp;w</PASSWORD>"));
    assert_eq!(ebs::request_sn(1_796_350_210_123), "261204101010123");
    let a = ebs::parse_refund_answer(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?><TX><REQUEST_SN>261204101010123</REQUEST_SN><CUST_ID>105000000000001</CUST_ID>         <TX_CODE>5W1004</TX_CODE><RETURN_CODE>000000</RETURN_CODE><RETURN_MSG></RETURN_MSG><LANGUAGE>CN</LANGUAGE>         <TX_INFO><ORDER_NUM>XF261204CZIE00000101</ORDER_NUM><PAY_AMOUNT>2400.00</PAY_AMOUNT><AMOUNT>10.50</AMOUNT></TX_INFO></TX>",
    )
    .unwrap();
    assert!(a.ok());
    assert_eq!((a.pay_amount, a.amount), (Some(Fen(240_000)), Some(Fen(1_050))));
}
