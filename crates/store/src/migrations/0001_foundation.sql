-- Schools (tenants); `policy` is the SchoolPolicy as JSON: a new school is a row, not a release.
CREATE TABLE schools (
    id {id},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE students (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_no TEXT NOT NULL,
    name TEXT NOT NULL,
    gender TEXT NOT NULL,
    id_card TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    postcode TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL,
    major TEXT NOT NULL,
    level TEXT NOT NULL,
    class_name TEXT NOT NULL,
    enrol_year BIGINT NOT NULL,
    -- NULL while the initial password (derived from the policy) is in force.
    password_hash TEXT,
    password_changed_at BIGINT,
    security_email TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, student_no)
);
CREATE INDEX students_by_phone ON students (school_id, phone);

-- 收费期间: a term (2023秋) or a year; `academic_year` groups arrears per year.
CREATE TABLE periods (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    academic_year TEXT NOT NULL,
    sort BIGINT NOT NULL,
    UNIQUE (school_id, code)
);

-- 收费项目
CREATE TABLE fee_items (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    mandatory BIGINT NOT NULL DEFAULT 0,
    parent_id BIGINT REFERENCES fee_items (id),
    instalments BIGINT NOT NULL DEFAULT 0,
    instalment_min_fen BIGINT NOT NULL DEFAULT 0 CHECK (instalment_min_fen >= 0),
    window_start BIGINT,
    window_end BIGINT,
    collecting BIGINT NOT NULL DEFAULT 1,
    sort BIGINT NOT NULL DEFAULT 0,
    UNIQUE (school_id, code)
);

-- What one student owes for one item in one period, as issued. What has been paid is never
-- stored here: it is the sum of the charge's ledger entries.
CREATE TABLE charges (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    fee_item_id BIGINT NOT NULL REFERENCES fee_items (id),
    period_id BIGINT NOT NULL REFERENCES periods (id),
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    discount_fen BIGINT NOT NULL DEFAULT 0 CHECK (discount_fen >= 0 AND discount_fen <= total_fen),
    created_at BIGINT NOT NULL,
    UNIQUE (student_id, fee_item_id, period_id)
);
CREATE INDEX charges_by_student ON charges (school_id, student_id);

-- Every movement of money, insert-only (triggers refuse UPDATE and DELETE).
-- kind: payment (by a channel, to a charge), offline_payment (recorded by the office),
-- balance_use (from the student's balance, to a charge), refund, credit (to the balance).
CREATE TABLE ledger_entries (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    charge_id BIGINT REFERENCES charges (id),
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_by_charge ON ledger_entries (charge_id);
CREATE INDEX ledger_by_student ON ledger_entries (school_id, student_id);

CREATE TABLE announcements (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX announcements_by_school ON announcements (school_id, published_at);

-- Sessions live in the database so that any instance can serve any request.
-- Only a hash of the token is stored: a copy of the table opens no session.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    csrf_token TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_timeout_s BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    user_agent TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_student ON sessions (student_id, ended_at);

-- Image captchas: single use, expiring.
CREATE TABLE captchas (
    id TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Security log: logins, failures, lockouts, password changes (kept >= 180 days).
-- Login throttling counts failures here, so limits hold across instances.
CREATE TABLE security_events (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT,
    login TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX security_by_login ON security_events (school_id, login, kind, at);
CREATE INDEX security_by_ip ON security_events (ip, kind, at);
CREATE INDEX security_by_student ON security_events (student_id, at);

-- Every action of the finance office and the system on a school's data.
CREATE TABLE audit_log (
    id {id},
    school_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
