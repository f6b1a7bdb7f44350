//! campuspay's database: one schema, one set of SQL, on SQLite (default) and PostgreSQL.
//!
//! Queries go through sqlx's `Any` driver with `$1`-style parameters, which both backends
//! accept, so there is a single code path to test. Instants are unix seconds (`BIGINT`) and
//! flags are `BIGINT` 0/1, the types both backends and the `Any` driver share.

pub mod adjustments;
pub mod announcements;
pub mod audit;
pub mod catalog;
pub mod charge_runs;
pub mod charges;
pub mod dashboard;
mod db;
pub mod exceptions;
pub mod exports;
pub mod imports;
pub mod jobs;
pub mod ledger;
pub mod merchants;
pub mod money_reports;
pub mod office;
#[macro_use]
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod receipts;
pub mod recovery;
pub mod refunds;
pub mod reports;
pub mod schools;
pub mod search;
pub mod security;
pub mod sessions;
pub mod settling;
pub mod staff;
pub mod stats;
pub mod students;
pub mod throttle;

pub use db::{Backend, On, Store, StoreError, WriteStats, WriteTx, now as db_now};
