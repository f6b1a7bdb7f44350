//! Mail and SMS to students, or the outbox when none is configured.

pub mod mail;
pub mod sms;

/// Why a message was not sent, and whether sending it again may help: a provider's refusal of
/// the template, the signature or the address will refuse the same message again, while a
/// timeout or the provider's own trouble may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// Sending the same message again fails the same way until a person changes something.
    pub permanent: bool,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), permanent: false }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), permanent: true }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SendError {}
