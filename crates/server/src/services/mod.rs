//! What the platform does, independent of HTTP: handlers call these.

pub mod auth;
pub mod captcha;
pub mod channels;
pub mod jobs;
pub mod mail;
pub mod orders;
pub mod reconcile;
pub mod recovery;
pub mod settle;
pub mod sms;
pub mod student;
