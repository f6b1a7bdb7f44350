//! Published vectors from WeChat Pay's official Go SDK (wechatpay-apiv3/wechatpay-go:
//! `utils/sign_test.go`, `core/auth/verifiers/sha256withrsa_pubkey_verifier_test.go`,
//! `utils/aes_test.go`). The key is the SDK's published test key (label as published).

use super::*;

const WECHATPAY_GO_TEST_KEY: &str = "-----BEGIN TESTING KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END TESTING KEY-----";

const WECHATPAY_GO_TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2VCTd91fnUn73Xy9DLvt
/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+
U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4
SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oU
xwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmd
a7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT
8wIDAQAB
-----END PUBLIC KEY-----";

/// SHA256withRSA of `source` under the key above, as published.
const WECHATPAY_GO_SIGNATURE_OF_SOURCE: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

#[test]
fn signs_the_published_wechatpay_vector_exactly() {
    let signer = RsaSigner::from_pem(WECHATPAY_GO_TEST_KEY).unwrap();
    assert_eq!(signer.sign_b64(b"source").unwrap(), WECHATPAY_GO_SIGNATURE_OF_SOURCE);
}

#[test]
fn verifies_the_published_wechatpay_vector_and_refuses_other_messages() {
    let v = RsaVerifier::from_pem(WECHATPAY_GO_TEST_PUBLIC_KEY).unwrap();
    v.verify_b64(b"source", WECHATPAY_GO_SIGNATURE_OF_SOURCE).unwrap();
    assert!(matches!(v.verify_b64(b"wrong source", WECHATPAY_GO_SIGNATURE_OF_SOURCE), Err(ChannelError::BadSignature)));
    assert!(matches!(v.verify_b64(b"source", "invalid base64 signature"), Err(ChannelError::BadSignature)));
    assert!(v.verify_b64(b"source", "").is_err());
}

/// The published AES vector uses a 16-byte key, i.e. AES-128-GCM; it checks our framing
/// (UTF-8 nonce and associated data, tag appended, Base64). WeChat's real APIv3 key is 32
/// bytes (AES-256), which `aes_256_gcm_open` insists on.
#[test]
fn decrypts_the_published_wechatpay_aes_vector() {
    let open = |key: &str, ct: &str| {
        aead_open(aead_key(&aws_lc_rs::aead::AES_128_GCM, key.as_bytes()).unwrap(), "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", ct)
    };
    assert_eq!(open("testAPIv3Key0000", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC").unwrap(), b"Hello World");
    assert!(open("testAPIv3Key1111", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC").is_err());
    assert!(open("testAPIv3Key0000", "SGVsbG8gV29ybGQK").is_err());
    assert!(open("testAPIv3Key0000", "invalid cipher").is_err());
    assert!(matches!(
        aes_256_gcm_open(b"testAPIv3Key0000", "wCq51qZv4Yfg", "", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"),
        Err(ChannelError::Config(_))
    ));
}

#[test]
fn aes_256_gcm_round_trips_and_detects_tampering() {
    let key = b"0123456789abcdef0123456789abcdef";
    let ct = aes_256_gcm_seal(key, "abcdefghijkl", "transaction", b"{\"a\":1}").unwrap();
    assert_eq!(aes_256_gcm_open(key, "abcdefghijkl", "transaction", &ct).unwrap(), b"{\"a\":1}");
    assert!(aes_256_gcm_open(key, "abcdefghijkl", "certificate", &ct).is_err(), "other associated data");
    assert!(aes_256_gcm_open(key, "abcdefghijkm", "transaction", &ct).is_err(), "other nonce");
    let mut raw = b64_decode(&ct).unwrap();
    raw[0] ^= 1;
    assert!(aes_256_gcm_open(key, "abcdefghijkl", "transaction", &b64_encode(&raw)).is_err(), "flipped bit");
    assert!(aes_256_gcm_open(key, "short", "transaction", &ct).is_err(), "nonce must be 12 bytes");
}

#[test]
fn pem_parsing_accepts_bare_base64_and_refuses_garbage() {
    let (label, der) = pem_to_der(WECHATPAY_GO_TEST_PUBLIC_KEY).unwrap();
    assert_eq!(label, "PUBLIC KEY");
    let bare: String = WECHATPAY_GO_TEST_PUBLIC_KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(pem_to_der(&bare).unwrap().1, der);
    assert_eq!(pem_to_der(&der_to_pem("PUBLIC KEY", &der)).unwrap().1, der);
    assert!(pem_to_der("-----BEGIN PUBLIC KEY-----\nAAAA\n").is_err(), "no END line");
    assert!(RsaVerifier::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
    assert!(RsaSigner::from_pem(WECHATPAY_GO_TEST_PUBLIC_KEY).is_err(), "a public key is not a private key");
}

#[test]
fn nonces_are_alphanumeric_and_differ() {
    let a = random_nonce(32);
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(a, random_nonce(32));
}

/// The platform certificate of the same published test key (serial `F5765756002FDD77`).
const WECHATPAY_GO_TEST_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJAPV2V1YAL913MA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg0MDMyWhcNMzEwNDI1MDg0MDMyWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAM+tslqBxYwqL9fdvGG6hfy69sjfX
UhBtBLWYugKKQCOWWLeq5dDWm3i5Cx2Rgiy9uc7RfmJNxQfIKlcoCNP85BjDoG1B
YnVc6znlcrT9uHgseha3987WwZsFAQbcy8TLUYHzVB8gmDgq8O08xdIe0eczatI8
t3Rg8WXO6Gs66JJ4JR+rD01o3FiSOQCRWhn19NSyDydsgPlOR2t9B9L+MkJwlsMG
Krn85TnwL3qcInzRnU8X86faXXJrI0IJi44tECKw8ftngCl6vyNwNNKPDwdkcuuV
8y3iBixO5IuKxEKEp2wGPV/4W1AXO73Z3Gb7z/1oxdgeO0hVqz1hBasTCQ==
-----END CERTIFICATE-----";

#[test]
fn reads_serial_and_key_of_the_published_platform_certificate() {
    let (_, der) = pem_to_der(WECHATPAY_GO_TEST_CERTIFICATE).unwrap();
    let parts = x509_parts(&der).unwrap();
    assert_eq!(parts.serial_hex, "F5765756002FDD77");
    assert_eq!(parts.spki, pem_to_der(WECHATPAY_GO_TEST_PUBLIC_KEY).unwrap().1);
    assert!(x509_parts(&der[..200]).is_err(), "truncated certificate");

    // Certificate mode: the serial comes from the certificate itself.
    use crate::wechatpay::{PlatformKey, PlatformVerifiers};
    let set = PlatformVerifiers::from_config(&[PlatformKey { serial: None, pem: WECHATPAY_GO_TEST_CERTIFICATE.into() }]).unwrap();
    set.get("F5765756002FDD77").unwrap().verify_b64(b"source", WECHATPAY_GO_SIGNATURE_OF_SOURCE).unwrap();
    assert!(set.get("PUB_KEY_ID_0000").is_none());
    let wrong = PlatformKey { serial: Some("0123".into()), pem: WECHATPAY_GO_TEST_CERTIFICATE.into() };
    assert!(matches!(PlatformVerifiers::from_config(&[wrong]), Err(ChannelError::Config(_))));
}
