//! campuspay's domain: the types and rules of a campus payment platform, free of I/O.
//!
//! Everything here is pure and synchronous so that it can be property-tested and reused by
//! the store, the channels and the server alike.

pub mod cart;
pub mod charge;
pub mod idcard;
pub mod ledger;
pub mod money;
mod names;
pub mod office;
pub mod order;
pub mod order_no;
pub mod password;
pub mod payment;
pub mod policy;
pub mod profile;
pub mod receipt;
pub mod settlement;
pub mod text;
pub mod time;

pub use charge::{ChargeAmounts, ChargeState};
pub use ledger::LedgerKind;
pub use money::{Fen, MoneyError};
pub use names::UnknownName;
pub use policy::SchoolPolicy;
