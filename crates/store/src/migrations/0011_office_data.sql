-- The school's data in (imports, fee standards), charges issued in runs, and adjustments to
-- issued charges kept as history.

-- 收费标准: what one fee item costs in one period for the students its selectors match
-- (an empty selector matches everyone). A charge run takes, per student, the most specific
-- matching standard.
CREATE TABLE fee_standards (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    fee_item_id BIGINT NOT NULL REFERENCES fee_items (id),
    period_id BIGINT NOT NULL REFERENCES periods (id),
    grade TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL DEFAULT '',
    major TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, fee_item_id, period_id, grade, department, major, level)
);

-- An uploaded file, parsed and checked: `payload` holds its valid rows (what a commit
-- writes), `errors` every bad row with its column and reason. Nothing is written to the
-- school's data until the import is committed.
CREATE TABLE imports (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    kind TEXT NOT NULL CHECK (kind IN ('students', 'fee_standards')),
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    payload TEXT NOT NULL,
    errors TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX imports_by_school ON imports (school_id, id);

-- One row when an import is committed; the primary key makes a second commit (a double
-- click, two tabs) a conflict that writes nothing.
CREATE TABLE import_commits (
    import_id BIGINT PRIMARY KEY REFERENCES imports (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    committed_at BIGINT NOT NULL
);

-- 批量生成应收: one run issues one fee item for one period to the students a filter picks.
-- The same Idempotency-Key at a school is the same run, answered again. The charges are the
-- money; this row records the request and, once the run is done, its figures.
CREATE TABLE charge_runs (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    idempotency_key TEXT,
    fee_item_id BIGINT NOT NULL REFERENCES fee_items (id),
    period_id BIGINT NOT NULL REFERENCES periods (id),
    -- NULL: amounts from the fee standards.
    amount_fen BIGINT CHECK (amount_fen IS NULL OR amount_fen > 0),
    filter TEXT NOT NULL,
    students BIGINT NOT NULL,
    total_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX charge_runs_by_key ON charge_runs (school_id, idempotency_key);
ALTER TABLE charges ADD COLUMN run_id BIGINT REFERENCES charge_runs (id);
CREATE INDEX charges_by_run ON charges (run_id);

-- 减免 / 缓缴 / 撤销 of one charge. Insert-only, like its decisions: an adjustment above the
-- school's threshold waits for a second person (`needs_approval`), and its money (a
-- `waiver` or `cancellation` ledger entry) is written only when it is in force.
CREATE TABLE adjustments (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    charge_id BIGINT NOT NULL REFERENCES charges (id),
    kind TEXT NOT NULL CHECK (kind IN ('waiver', 'deferral', 'cancellation')),
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    -- Deferral: the date (YYYY-MM-DD, Shanghai) the student may pay until.
    defer_until TEXT,
    reason TEXT NOT NULL,
    requested_by BIGINT NOT NULL REFERENCES staff (id),
    needs_approval BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX adjustments_by_charge ON adjustments (charge_id);
CREATE INDEX adjustments_by_school ON adjustments (school_id, id);

CREATE TABLE adjustment_decisions (
    adjustment_id BIGINT PRIMARY KEY REFERENCES adjustments (id),
    approved BIGINT NOT NULL,
    decided_by BIGINT NOT NULL REFERENCES staff (id),
    note TEXT NOT NULL DEFAULT '',
    decided_at BIGINT NOT NULL
);

-- What a charge owes now also subtracts what the office waived or cancelled.
DROP VIEW charge_sums;
CREATE VIEW charge_sums AS
SELECT s.charge_id, s.total_fen, s.discount_fen, s.paid_fen, s.balance_used_fen, s.waived_fen, s.cancelled_fen,
       CAST(s.total_fen - s.discount_fen - s.waived_fen - s.cancelled_fen - s.paid_fen - s.balance_used_fen AS BIGINT) AS owed_fen
FROM (
    SELECT c.id AS charge_id, c.total_fen, c.discount_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind IN ('payment', 'offline_payment', 'refund')), 0) AS BIGINT) AS paid_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind = 'balance_use'), 0) AS BIGINT) AS balance_used_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind = 'waiver'), 0) AS BIGINT) AS waived_fen,
           CAST(COALESCE((SELECT SUM(l.amount_fen) FROM ledger_entries l
                          WHERE l.charge_id = c.id AND l.kind = 'cancellation'), 0) AS BIGINT) AS cancelled_fen
    FROM charges c
) s;
