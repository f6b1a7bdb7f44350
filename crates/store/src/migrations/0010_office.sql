-- The finance office: staff of a school (or the platform's operator), their sessions, and
-- the attempt counters that throttle logins atomically.

CREATE TABLE staff (
    id {id},
    -- NULL for the platform's operator, who belongs to no school.
    school_id BIGINT REFERENCES schools (id),
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('school_admin', 'accountant', 'cashier', 'auditor', 'platform_admin')),
    password_hash TEXT NOT NULL,
    -- Base32 TOTP secret once the second factor is set up.
    totp_secret TEXT,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CHECK ((role = 'platform_admin') = (school_id IS NULL))
);
-- One login per school, and one among the platform's operators.
CREATE UNIQUE INDEX staff_login ON staff (COALESCE(school_id, 0), login);

CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_timeout_s BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX staff_sessions_by_staff ON staff_sessions (staff_id);

-- Attempts counted before they are checked: a login reserves its attempt here (one row
-- update under the database's own locking) before the password is verified, so no number
-- of concurrent requests or instances can check more passwords than the limit.
CREATE TABLE throttle_counters (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);

-- Set when the office resets a student's password to the school's initial rule: the next
-- login must choose a new one, whatever the school's policy says about initial passwords.
ALTER TABLE students ADD COLUMN force_password_change BIGINT NOT NULL DEFAULT 0;

-- Money taken at the counter. One row per receipt of money; its lines are `offline_payment`
-- ledger entries carrying the same reference. The same method and reference twice at a
-- school is one payment (a double click, a re-sent form), never two.
CREATE TABLE offline_payments (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    method TEXT NOT NULL CHECK (method IN ('cash', 'pos', 'bank_transfer')),
    reference TEXT NOT NULL,
    total_fen BIGINT NOT NULL CHECK (total_fen > 0),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, method, reference)
);
