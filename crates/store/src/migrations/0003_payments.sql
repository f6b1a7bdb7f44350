-- Orders: what a student means to pay in one go. The total never changes once created.
CREATE TABLE orders (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    order_no TEXT NOT NULL,
    -- what the channel must collect; the balance's part is in balance_fen
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    balance_fen BIGINT NOT NULL DEFAULT 0 CHECK (balance_fen >= 0),
    -- unpaid, paid, closed, cancelled, refunded (domain::order::OrderState)
    status TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    invoice_kind TEXT NOT NULL DEFAULT 'individual',
    invoice_title TEXT NOT NULL DEFAULT '',
    invoice_tax_no TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    ended_at BIGINT,
    CHECK (total_fen + balance_fen > 0),
    UNIQUE (school_id, order_no)
);
CREATE INDEX orders_by_student ON orders (school_id, student_id, created_at);
CREATE INDEX orders_due ON orders (status, expires_at);

-- The charges an order pays. `live` is 1 while the order is unpaid: the partial unique index
-- below is what makes two live orders for one charge impossible, however requests race.
CREATE TABLE order_lines (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    charge_id BIGINT NOT NULL REFERENCES charges (id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- the part of amount_fen the student's balance pays
    balance_fen BIGINT NOT NULL DEFAULT 0 CHECK (balance_fen >= 0 AND balance_fen <= amount_fen),
    live BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX order_lines_one_live_order_per_charge ON order_lines (charge_id) WHERE live = 1;
CREATE INDEX order_lines_by_order ON order_lines (order_id);

-- One try to pay an order through one channel. Each has its own provider trade number:
-- switching channel makes a new attempt (WeChat refuses a reused out_trade_no).
CREATE TABLE pay_attempts (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    channel TEXT NOT NULL,
    out_trade_no TEXT NOT NULL UNIQUE,
    -- open, superseded, closed, paid (domain::order::AttemptState)
    status TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    -- what the provider needs besides out_trade_no to find the trade again (UnionPay txnTime)
    reference TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    next_query_at BIGINT,
    queries BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX pay_attempts_by_order ON pay_attempts (order_id);
CREATE INDEX pay_attempts_due ON pay_attempts (status, next_query_at);

-- Money a provider says it received, settled exactly once: the unique key on the channel's
-- transaction id is the database's own guard against a second delivery or a racing query.
CREATE TABLE provider_payments (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    attempt_id BIGINT REFERENCES pay_attempts (id),
    provider TEXT NOT NULL,
    channel TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- where the news came from: notify, query, statement
    source TEXT NOT NULL,
    -- what the money did: applied, refund, credit
    disposition TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    paid_at TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (provider, txn_id)
);
CREATE INDEX provider_payments_by_order ON provider_payments (order_id);

-- Refunds sent back through a channel (late or duplicate money, office refunds).
CREATE TABLE refunds (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    provider_payment_id BIGINT NOT NULL REFERENCES provider_payments (id),
    out_refund_no TEXT NOT NULL UNIQUE,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- pending, processing, success, failed
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    -- what the provider needs to find the refund again (UnionPay's txnTime)
    reference TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);

-- Every notification as it arrived, verified or not: evidence for the finance office.
CREATE TABLE notifications (
    id {id},
    provider TEXT NOT NULL,
    school_code TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    received_at BIGINT NOT NULL
);

-- Background work (queries, expiries, closes, refunds), claimed by any instance.
CREATE TABLE jobs (
    id {id},
    kind TEXT NOT NULL,
    ref_id BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    done_at BIGINT,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);

-- Daily order-number sequences (seed 004: XF200510LUTAU000001).
CREATE TABLE order_sequences (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    day TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (school_id, day)
);

-- A school's merchant configuration per provider (JSON of campuspay_channels::ChannelConfig).
CREATE TABLE school_channels (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (school_id, provider)
);
