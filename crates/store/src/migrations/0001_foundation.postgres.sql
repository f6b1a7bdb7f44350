CREATE FUNCTION campuspay_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
CREATE TRIGGER charges_no_delete BEFORE DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
CREATE TRIGGER charges_amounts_fixed BEFORE UPDATE OF total_fen, discount_fen ON charges
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
