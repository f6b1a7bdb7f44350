CREATE TRIGGER adjustments_append_only BEFORE UPDATE OR DELETE ON adjustments
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
CREATE TRIGGER adjustment_decisions_append_only BEFORE UPDATE OR DELETE ON adjustment_decisions
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
