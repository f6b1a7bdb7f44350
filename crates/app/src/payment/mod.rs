//! Money coming in: the school's channels, orders, paying, provider notifications, settling
//! exactly once, closing and expiring orders, and the daily reconciliation.

pub mod channels;
pub mod merchant_config;
pub mod notify;
pub mod orders;
pub mod payer;
pub mod reconcile;
pub mod refund;
pub mod settle;
pub mod settler;
pub mod statement_fees;
