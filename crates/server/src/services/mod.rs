//! What the platform does, independent of HTTP: handlers call these.

pub mod auth;
pub mod captcha;
pub mod mail;
pub mod recovery;
pub mod sms;
pub mod student;
