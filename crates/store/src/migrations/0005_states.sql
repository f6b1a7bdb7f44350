-- What a charge has been paid and still owes, defined once. Paid money is the charge's
-- `payment`, `offline_payment` and `refund` ledger rows; what its balance paid, its
-- `balance_use` rows; owed is what is left of the total after the discount and both.
-- Correlated subqueries rather than GROUP BY, so that both backends inline the view into a
-- query about a few charges instead of summing the whole ledger first.
CREATE VIEW charge_sums AS
SELECT s.charge_id, s.total_fen, s.discount_fen, s.paid_fen, s.balance_used_fen,
       CAST(s.total_fen - s.discount_fen - s.paid_fen - s.balance_used_fen AS BIGINT) AS owed_fen
FROM (
    SELECT c.id AS charge_id, c.total_fen, c.discount_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind IN ('payment', 'offline_payment', 'refund')), 0) AS BIGINT) AS paid_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind = 'balance_use'), 0) AS BIGINT) AS balance_used_fen
    FROM charges c
) s;

-- Late-payment reasons were written as Rust variant names (`OrderClosed`); their word is
-- snake_case (`order_closed`, as in the API). `refunds` may be updated, so its rows are
-- rewritten. `provider_payments` is append-only (its triggers refuse UPDATE, and they guard
-- money): its old rows keep the old spelling and the store reads both.
UPDATE refunds SET reason = 'order_closed' WHERE reason = 'OrderClosed';
UPDATE refunds SET reason = 'order_cancelled' WHERE reason = 'OrderCancelled';
UPDATE refunds SET reason = 'already_paid' WHERE reason = 'AlreadyPaid';
UPDATE refunds SET reason = 'order_refunded' WHERE reason = 'OrderRefunded';
UPDATE refunds SET reason = 'amount_mismatch' WHERE reason = 'AmountMismatch';
