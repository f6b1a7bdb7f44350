-- The daily collection report and the voucher export read the ledger of a school by time,
-- and find each row's channel through the reference it carries: a provider's transaction id,
-- a counter payment's reference, or a refund's number.
CREATE INDEX ledger_by_school_time ON ledger_entries (school_id, created_at);
CREATE INDEX provider_payments_by_txn ON provider_payments (school_id, txn_id);
CREATE INDEX offline_payments_by_reference ON offline_payments (school_id, student_id, reference);
