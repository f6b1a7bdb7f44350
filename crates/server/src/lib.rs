//! campuspay's server: HTTP only. Pages for students, the `/api/v1` JSON API, provider
//! notifications, the demo seed and the CLI.
//!
//! Handlers are thin: they parse the request, call a use case in `campuspay_app`, and render.

pub mod api;
pub mod app;
pub mod boundary;
pub mod demo;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod office;
pub mod pages;
#[cfg(feature = "demo")]
pub mod simulator;
pub mod web;

pub use app::{AppState, Config};
pub use campuspay_app::i18n;
pub use error::HttpError;
