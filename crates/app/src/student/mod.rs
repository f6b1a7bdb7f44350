//! What a student does with their account: log in, change and recover the password, keep
//! their profile, see what they owe.

pub mod auth;
pub mod captcha;
pub mod profile;
pub mod recovery;
mod recovery_limits;
mod throttle;
