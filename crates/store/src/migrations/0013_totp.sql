-- A second factor being set up waits here until a code confirms it; the last step a code was
-- used for is kept so that no code logs in twice.
ALTER TABLE staff ADD COLUMN totp_pending TEXT;
ALTER TABLE staff ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
