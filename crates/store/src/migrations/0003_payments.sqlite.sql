CREATE TRIGGER provider_payments_append_only_u BEFORE UPDATE ON provider_payments
BEGIN
    SELECT RAISE(ABORT, 'provider_payments is append-only');
END;
CREATE TRIGGER provider_payments_append_only_d BEFORE DELETE ON provider_payments
BEGIN
    SELECT RAISE(ABORT, 'provider_payments is append-only');
END;
CREATE TRIGGER orders_total_fixed BEFORE UPDATE OF total_fen, order_no ON orders
BEGIN
    SELECT RAISE(ABORT, 'an order''s number and total are fixed');
END;
CREATE TRIGGER orders_no_delete BEFORE DELETE ON orders
BEGIN
    SELECT RAISE(ABORT, 'orders are never deleted');
END;
