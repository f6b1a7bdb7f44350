//! campuspay's server: pages for students, the `/api/v1` JSON API, and the demo seed.
//!
//! Handlers are thin: they parse the request, call a service in `services`, and render.

pub mod api;
pub mod app;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod services;
pub mod web;

pub use app::{AppState, Config};
pub use error::AppError;
