CREATE TRIGGER provider_payments_append_only BEFORE UPDATE OR DELETE ON provider_payments
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
CREATE TRIGGER orders_total_fixed BEFORE UPDATE OF total_fen, order_no ON orders
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
CREATE TRIGGER orders_no_delete BEFORE DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION campuspay_append_only();
