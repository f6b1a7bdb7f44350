//! The provider side of the WeChat Pay and Alipay protocols, for the simulator and the tests:
//! verify *our* requests with our public key, sign answers and notifications with the
//! provider's private key, encrypt WeChat notification resources. The HTTP simulator (axum
//! router with a trade ledger) is to be built on these.

pub mod alipay;
pub mod wechat;

use crate::ChannelError;
use crate::crypto::der_to_pem;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

/// A fresh RSA-2048 key pair as PEM: PKCS#8 private key and SPKI public key.
#[derive(Clone)]
pub struct GeneratedKeyPair {
    pub private_pkcs8_pem: String,
    pub public_spki_pem: String,
}

impl std::fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("public_spki_pem", &self.public_spki_pem)
            .finish_non_exhaustive()
    }
}

/// Generates an RSA-2048 key pair (first start of the sandbox; tests).
pub fn generate_rsa_2048() -> Result<GeneratedKeyPair, ChannelError> {
    let kp = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| ChannelError::Crypto("生成 RSA 密钥失败"))?;
    let private: Pkcs8V1Der = kp
        .as_der()
        .map_err(|_| ChannelError::Crypto("导出私钥失败"))?;
    let public: PublicKeyX509Der = kp
        .public_key()
        .as_der()
        .map_err(|_| ChannelError::Crypto("导出公钥失败"))?;
    Ok(GeneratedKeyPair {
        private_pkcs8_pem: der_to_pem("PRIVATE KEY", private.as_ref()),
        public_spki_pem: der_to_pem("PUBLIC KEY", public.as_ref()),
    })
}
