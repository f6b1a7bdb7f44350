//! The CCB adapter against the simulated CCB's side: the order and query MACs it computes are
//! the ones CCB checks (`PUB` from CCB's key, `QUPWD` empty), and CCB's signed notifications
//! verify, while another key's or a changed field's do not.

use campuspay_channels::ccb::{Ccb, CcbConfig, api, sign};
use campuspay_channels::{ChannelError, HeaderMap, PaymentChannel};
use campuspay_domain::Fen;
use campuspay_sandbox::ccb::{CcbProviderSide, generate_key};
use campuspay_sandbox::keys::CcbIds;

fn ids() -> CcbIds {
    CcbIds {
        merchant_id: "105000000000001".into(),
        branch_id: "442000000".into(),
        operator: "000001".into(),
        query_password: "qpwd".into(),
        ebs_user_id: "WLPT01".into(),
        ebs_password: "epwd".into(),
    }
}

fn config(public_hex: &str, pos_id: &str) -> CcbConfig {
    CcbConfig {
        merchant_id: "105000000000001".into(),
        pos_id: pos_id.into(),
        branch_id: "442000000".into(),
        ccb_public_key_hex: public_hex.into(),
        gateway_url: "http://127.0.0.1:1/sandbox/ccb/ccbMain".into(),
        query_url: None,
        operator: "000001".into(),
        query_password: "qpwd".into(),
        ebs_addr: String::new(),
        ebs_cust_id: String::new(),
        ebs_user_id: String::new(),
        ebs_password: String::new(),
    }
}

#[test]
fn macs_notifications_and_refusals_round_trip() {
    let k = generate_key().unwrap();
    assert_eq!(k.public_hex.len(), 324, "a 1024-bit key's SubjectPublicKeyInfo, as hex");
    let side = CcbProviderSide::new(&ids(), &k.private_pkcs8_pem, &k.public_hex).unwrap();
    let pos = side.register_pos("https://school.example/notify/ccb/czie", "https://school.example/s/czie/ccb/return");
    let c = config(&k.public_hex, &pos);

    let mut form = api::order_form(&c, "CZ261204CZIE00000101", Fen(550_000), "").unwrap();
    assert!(side.mac_ok(&sign::ORDER_MAC_FIELDS, &form));
    form.insert("PAYMENT".into(), "0.01".into());
    assert!(!side.mac_ok(&sign::ORDER_MAC_FIELDS, &form), "a changed amount fails the MAC");
    let query = api::query_form(&c, "CZ261204CZIE00000101", false).unwrap();
    assert!(side.mac_ok(&sign::QUERY_MAC_FIELDS, &query), "QUPWD empty in the MAC, sent in the form");

    let fields = format!(
        "POSID={pos}&BRANCHID=442000000&ORDERID=CZ261204CZIE00000101&PAYMENT=5500.00&CURCODE=01&REMARK1=&REMARK2=&ACC_TYPE=30&SUCCESS=Y&TYPE=1&REFERER=&CLIENTIP=&ACCDATE=20261204"
    );
    let signed = format!("{fields}&SIGN={}", side.sign_hex(&fields).unwrap());
    let ccb = Ccb::new(c.clone()).unwrap();
    let n = ccb.verify_notification(&HeaderMap::new(), signed.as_bytes(), 0).unwrap();
    assert_eq!((n.out_trade_no.as_str(), n.amount, n.paid), ("CZ261204CZIE00000101", Fen(550_000), true));
    let tampered = signed.replace("PAYMENT=5500.00", "PAYMENT=5.00");
    assert!(matches!(ccb.verify_notification(&HeaderMap::new(), tampered.as_bytes(), 0), Err(ChannelError::BadSignature)));
    // Another CCB key: the same fields, signed by someone else, are refused.
    let other = generate_key().unwrap();
    let wrong = Ccb::new(config(&other.public_hex, &pos)).unwrap();
    assert!(matches!(wrong.verify_notification(&HeaderMap::new(), signed.as_bytes(), 0), Err(ChannelError::BadSignature)));
    assert_eq!(side.pos(&pos).unwrap().notify_url, "https://school.example/notify/ccb/czie");
}
