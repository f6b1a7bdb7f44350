//! What the platform does, independent of HTTP: handlers call these.

pub mod auth;
pub mod captcha;
pub mod student;
