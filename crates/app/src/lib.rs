//! campuspay's use cases, independent of HTTP: the server's handlers, the CLI and the job
//! worker call these with a [`Context`].
//!
//! - [`student`]: login, sessions, passwords, account recovery, captcha, profile and arrears.
//! - [`payment`]: the school's channels, orders, paying, settling notifications exactly once,
//!   closing, reconciling statements.
//! - [`messaging`]: mail (SMTP) and SMS (Aliyun), or the outbox.
//! - [`office`]: the finance office: staff, permissions, audit, merchant configurations.
//! - [`secrets`]: AES-256-GCM sealing of secrets at rest (merchant keys).
//! - [`jobs`]: the background work kept in the database: a typed [`jobs::Job`], run by
//!   [`jobs::Runner`] with a concurrency limit per queue.
//!
//! Every use case returns [`Error`]; the server maps its [`ErrorKind`] to a status in one place.

pub mod clock;
pub mod context;
pub mod crypto;
pub mod error;
pub mod i18n;
pub mod jobs;
pub mod messaging;
pub mod office;
pub mod payment;
pub mod receipts;
pub mod schools;
pub mod secrets;
pub mod student;

pub use clock::Clock;
pub use context::{Client, Context, Settings};
pub use error::{Error, ErrorKind, Result};
pub use i18n::Lang;
