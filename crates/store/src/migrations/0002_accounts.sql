-- Accounts (issue #4): security question, recovery tokens and codes, the demo outbox.

-- 密保问题 (seed 004): the answer is stored as an argon2 hash of its normalized form.
ALTER TABLE students ADD COLUMN security_question TEXT NOT NULL DEFAULT '';
ALTER TABLE students ADD COLUMN security_answer_hash TEXT;

-- Single-use, expiring secrets that let a student reset a forgotten password:
-- kind 'email_link' (a link sent to the security e-mail, seed 001) or 'sms_code' (a 6-digit
-- code sent to the phone, seed 002). Only a SHA-256 of the secret is stored.
CREATE TABLE recovery_tokens (
    id {id},
    token_hash TEXT NOT NULL UNIQUE,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    kind TEXT NOT NULL,
    -- where it was sent: the phone of an SMS code (the daily cap counts per phone), the e-mail of a link
    sent_to TEXT NOT NULL DEFAULT '',
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_by_student ON recovery_tokens (school_id, student_id, kind, created_at);
CREATE INDEX recovery_by_sent_to ON recovery_tokens (kind, sent_to, created_at);

-- Mail and SMS that were not handed to a real server/provider (demo mode): the page
-- /demo/outbox lists them. Never used for delivery in production.
CREATE TABLE outbox (
    id {id},
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
