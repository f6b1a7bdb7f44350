//! Mail and SMS to students, or the outbox when none is configured.

pub mod mail;
pub mod sms;
