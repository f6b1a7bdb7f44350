CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
CREATE TRIGGER charges_no_delete BEFORE DELETE ON charges
BEGIN
    SELECT RAISE(ABORT, 'charges are never deleted');
END;
CREATE TRIGGER charges_amounts_fixed BEFORE UPDATE OF total_fen, discount_fen ON charges
BEGIN
    SELECT RAISE(ABORT, 'a charge''s amounts are fixed at issue; adjust through the ledger');
END;
