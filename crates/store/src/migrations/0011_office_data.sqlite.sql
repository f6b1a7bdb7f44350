CREATE TRIGGER adjustments_no_update BEFORE UPDATE ON adjustments
BEGIN
    SELECT RAISE(ABORT, 'adjustments is append-only');
END;
CREATE TRIGGER adjustments_no_delete BEFORE DELETE ON adjustments
BEGIN
    SELECT RAISE(ABORT, 'adjustments is append-only');
END;
CREATE TRIGGER adjustment_decisions_no_update BEFORE UPDATE ON adjustment_decisions
BEGIN
    SELECT RAISE(ABORT, 'adjustment_decisions is append-only');
END;
CREATE TRIGGER adjustment_decisions_no_delete BEFORE DELETE ON adjustment_decisions
BEGIN
    SELECT RAISE(ABORT, 'adjustment_decisions is append-only');
END;
