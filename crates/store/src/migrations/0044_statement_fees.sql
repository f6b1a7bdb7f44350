-- What the provider kept of a day's counted trades (手续费), where its statement says; NULL
-- where the statement states no fee we read (UnionPay's ZM fee fields are not read).
ALTER TABLE reconciliations ADD COLUMN fee_fen BIGINT;
