//! The integration suite, one test binary (one link, not five): a real campuspay on port 0
//! over HTTP, every test on SQLite and on PostgreSQL (`CAMPUSPAY_TEST_DATABASE_URL`).

#[macro_use]
mod common;

mod accounts;
mod allinpay;
mod ccb;
mod exports;
mod foundation;
mod hardening;
mod hardening_boundaries;
mod money_reports;
mod office;
mod office_data;
mod office_import_pages;
mod office_merchants;
mod office_money;
mod office_money_pages;
mod office_pages;
mod office_settings_pages;
mod pages_jsapi;
mod pages_pay;
mod payments;
mod races;
mod receipt_failures;
mod receipts;
mod refund_notify;
mod rush;
mod statement_import;
mod workers;
