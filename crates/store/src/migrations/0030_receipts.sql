-- Electronic receipts (电子票据). One receipt per source (an order or an offline payment),
-- receipt type and issue key ('original', 'reissue-N', 'refund-N'): a retried or racing
-- issuing job finds the row taken and issues nothing twice.
CREATE TABLE receipt_sequences (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    receipt_type TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (school_id, receipt_type)
);

-- The school's signing key for receipts (HMAC-SHA256), made on first use.
CREATE TABLE receipt_keys (
    school_id BIGINT PRIMARY KEY REFERENCES schools (id),
    secret TEXT NOT NULL
);

CREATE TABLE receipts (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    source TEXT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    issue_key TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    original_id BIGINT REFERENCES receipts (id),
    issuer TEXT NOT NULL,
    code TEXT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq > 0),
    number TEXT NOT NULL,
    check_code TEXT NOT NULL,
    -- The signed receipt data (JSON exactly as signed) and its HMAC in hex.
    data TEXT NOT NULL,
    signature TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    payer TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    issued_at BIGINT NOT NULL,
    status_at BIGINT,
    UNIQUE (school_id, source, receipt_type, issue_key),
    UNIQUE (school_id, receipt_type, seq)
);
CREATE INDEX receipts_by_number ON receipts (code, number);
CREATE INDEX receipts_by_student ON receipts (school_id, student_id);
-- An offline payment's receipt finds its ledger rows by reference (the counter writes its
-- reference on each): without this, a student with many counter payments is scanned whole.
CREATE INDEX ledger_by_reference ON ledger_entries (school_id, reference);
