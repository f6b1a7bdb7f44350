-- The finance office's money work: refunds it starts, the exception queue, stored
-- reconciliation results.

-- What the office asked to give back: per order line (or per line of a counter payment),
-- with its reason and its maker (and checker above the school's threshold). The money leaves
-- the books only as `refund` ledger rows written when the provider confirms (or, for counter
-- money, when the office hands it back).
CREATE TABLE office_refunds (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    -- channel: back through the provider; offline: cash or transfer by the office
    method TEXT NOT NULL CHECK (method IN ('channel', 'offline')),
    order_id BIGINT REFERENCES orders (id),
    offline_payment_id BIGINT REFERENCES offline_payments (id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    reason TEXT NOT NULL,
    -- domain::settlement::OfficeRefundState
    status TEXT NOT NULL,
    -- 1 while the refund may still send money (awaiting approval, pending, processing): the
    -- unique indexes below make a second live refund of the same payment impossible, however
    -- requests race, on both databases.
    live BIGINT NOT NULL DEFAULT 1 CHECK (live IN (0, 1)),
    maker_id BIGINT NOT NULL REFERENCES staff (id),
    checker_id BIGINT REFERENCES staff (id),
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    CHECK ((method = 'channel') = (order_id IS NOT NULL)),
    CHECK ((method = 'offline') = (offline_payment_id IS NOT NULL))
);
CREATE UNIQUE INDEX office_refunds_one_live_per_order ON office_refunds (order_id) WHERE live = 1;
CREATE UNIQUE INDEX office_refunds_one_live_per_offline ON office_refunds (offline_payment_id) WHERE live = 1;
CREATE INDEX office_refunds_by_school ON office_refunds (school_id, created_at);

CREATE TABLE office_refund_lines (
    id {id},
    office_refund_id BIGINT NOT NULL REFERENCES office_refunds (id),
    charge_id BIGINT NOT NULL REFERENCES charges (id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    UNIQUE (office_refund_id, charge_id)
);
CREATE INDEX office_refund_lines_by_charge ON office_refund_lines (charge_id);

-- A provider refund sent for an office refund (NULL: late or duplicate money).
ALTER TABLE refunds ADD COLUMN office_refund_id BIGINT REFERENCES office_refunds (id);

-- The exception queue: money problems for a person. Found once however often the finder
-- runs (the unique key), closed only by an audited action, never deleted.
CREATE TABLE money_exceptions (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    -- domain::settlement::ExceptionKind
    kind TEXT NOT NULL,
    -- what it is about, unique per kind: `pp:12`, `refund:7`, `line:wechatpay:4200…`
    subject TEXT NOT NULL,
    student_id BIGINT REFERENCES students (id),
    provider_payment_id BIGINT REFERENCES provider_payments (id),
    refund_id BIGINT REFERENCES refunds (id),
    amount_fen BIGINT NOT NULL DEFAULT 0,
    -- JSON: the statement line, notification, ledger rows that show what happened
    evidence TEXT NOT NULL,
    -- open, resolved
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    -- domain::settlement::ExceptionAction, once resolved
    resolution TEXT,
    note TEXT NOT NULL DEFAULT '',
    resolved_by BIGINT REFERENCES staff (id),
    resolved_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, kind, subject)
);
CREATE INDEX money_exceptions_open ON money_exceptions (school_id, status, created_at);

-- One run of reconciliation for one school, provider and day: the figures the office sees
-- and the statement it was read from. A re-run adds a row; the latest one is shown.
CREATE TABLE reconciliations (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    provider TEXT NOT NULL,
    day TEXT NOT NULL,
    -- ok: read and compared; unavailable: the statement could not be read (see error)
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'unavailable')),
    error TEXT NOT NULL DEFAULT '',
    statement_count BIGINT NOT NULL DEFAULT 0,
    statement_fen BIGINT NOT NULL DEFAULT 0,
    refund_count BIGINT NOT NULL DEFAULT 0,
    refund_fen BIGINT NOT NULL DEFAULT 0,
    matched_count BIGINT NOT NULL DEFAULT 0,
    matched_fen BIGINT NOT NULL DEFAULT 0,
    settled_now_count BIGINT NOT NULL DEFAULT 0,
    settled_now_fen BIGINT NOT NULL DEFAULT 0,
    missing_ours_count BIGINT NOT NULL DEFAULT 0,
    missing_ours_fen BIGINT NOT NULL DEFAULT 0,
    missing_theirs_count BIGINT NOT NULL DEFAULT 0,
    missing_theirs_fen BIGINT NOT NULL DEFAULT 0,
    mismatched_count BIGINT NOT NULL DEFAULT 0,
    -- the statement's lines as read (JSON), kept as evidence
    statement TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX reconciliations_by_day ON reconciliations (school_id, day, provider, id);

-- The collection report reads the ledger by charge and kind.
CREATE INDEX ledger_by_charge_kind ON ledger_entries (charge_id, kind);
